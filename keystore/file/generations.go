package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/internal/safefile"
	"github.com/fleetboot/fleetboot/keystore"
)

// Layout of a Generations folder:
//
//	current        symlink to the committed generation, e.g. "gen-000003"
//	gen-000003/    0700, immutable once current points at it
//	  key.pem      0600 (names are the caller's)
//	gen-000002/    an earlier generation, kept for recovery
//	.lock          0600, flock(2) serialising writers across processes
//
// A commit writes a whole new generation folder, fsyncs it, and then replaces
// current with a rename, which is atomic. A power cut at any instant therefore
// leaves either the old generation or the complete new one current. A folder
// numbered above current, or a stray ".current-*" link, is debris from an
// interrupted commit: readers ignore it and the next commit removes it. Nothing
// is cleaned up on open, so a reader (fleetboot status) never races a writer.
const (
	currentLink = "current"
	tmpPrefix   = ".current-"
	lockFile    = ".lock"
	genPrefix   = "gen-"
	// keepOld earlier generations survive a commit: a key replaced by an import
	// may have a certificate the cloud issued, so it is not dropped at once.
	keepOld = 3
	// maxFileSize bounds what is read from disk; PEM keys and chains are a few KiB.
	maxFileSize = 1 << 20
)

var genName = regexp.MustCompile(`^gen-[0-9]{6,18}$`)

// Generations is a folder of named files replaced together, atomically. The file
// keystore keeps its key and certificates in one; other backends (a TPM key blob
// beside its certificate) may use it the same way. Safe for concurrent use by
// goroutines and by processes.
type Generations struct {
	dir string
	log *zap.Logger
	mu  sync.Mutex // serialises writers in this process; flock does it across processes

	// fault, when set by tests, is called before each step of a commit; an error
	// stops the commit there with no cleanup, as a power cut would.
	fault func(step string) error
}

// Snapshot is the committed generation as read: its name and the files asked
// for that exist in it.
type Snapshot struct {
	Generation string
	Files      map[string]File
}

// File is one file of a snapshot.
type File struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

// NewGenerations uses dir, which need not exist yet: it is created 0700 on the
// first commit.
func NewGenerations(dir string, log *zap.Logger) *Generations {
	if log == nil {
		log = zap.NewNop()
	}
	return &Generations{dir: dir, log: log}
}

// Dir is the folder.
func (g *Generations) Dir() string { return g.dir }

// Current names the committed generation. keystore.ErrNotFound if none.
func (g *Generations) Current() (string, error) {
	target, err := os.Readlink(filepath.Join(g.dir, currentLink))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", g.dir, keystore.ErrNotFound)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && errors.Is(pe.Err, errInvalid) {
			return "", fmt.Errorf("%w: %s is not a symlink to a generation", keystore.ErrCorrupt, filepath.Join(g.dir, currentLink))
		}
		return "", fmt.Errorf("read %s: %w", filepath.Join(g.dir, currentLink), err)
	}
	if !genName.MatchString(target) {
		return "", fmt.Errorf("%w: %s points to %.64q, not to a generation folder", keystore.ErrCorrupt, filepath.Join(g.dir, currentLink), target)
	}
	return target, nil
}

// Load reads the named files of the current generation. A name that is absent
// is left out of Files; keystore.ErrNotFound if there is no generation at all.
func (g *Generations) Load(names ...string) (*Snapshot, error) {
	gen, err := g.Current()
	if err != nil {
		return nil, err
	}
	gdir := filepath.Join(g.dir, gen)
	if fi, err := os.Stat(gdir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: current generation %s is missing", keystore.ErrCorrupt, gdir)
	}
	s := &Snapshot{Generation: gen, Files: make(map[string]File, len(names))}
	for _, name := range names {
		f, err := readFile(filepath.Join(gdir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.Clear()
			return nil, err
		}
		s.Files[name] = f
	}
	return s, nil
}

// Clear zeroes every file's data; the snapshot is unusable afterwards.
func (s *Snapshot) Clear() {
	if s == nil {
		return
	}
	for _, f := range s.Files {
		clear(f.Data)
	}
}

// readFile reads one file of a generation. The keystore writes every one of them
// itself, so a link, a FIFO or an oversized file there is debris or tampering:
// ErrCorrupt, never followed or read whole.
func readFile(path string) (File, error) {
	o := safefile.Options{Kind: "keystore file", Limit: maxFileSize, NoLinks: true}
	f, fi, err := safefile.Open(path, o)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return File{}, err
		}
		var se *safefile.Error
		if errors.As(err, &se) {
			return File{}, fmt.Errorf("%w: %w", keystore.ErrCorrupt, err)
		}
		return File{}, err
	}
	defer f.Close()
	data, err := safefile.ReadOpen(f, fi, path, o)
	if err != nil {
		if errors.Is(err, safefile.ErrTooLarge) {
			return File{}, fmt.Errorf("%w: %w", keystore.ErrCorrupt, err)
		}
		return File{}, err
	}
	return File{Path: path, Mode: fi.Mode(), Data: data}, nil
}

// UpdateFunc gets the current snapshot (nil if there is none) and returns the
// complete file set of the next generation. Returning an error aborts the
// update with nothing written; returning a nil map means "no change". Update
// clears the returned data once written, so it may hold a private key.
type UpdateFunc func(cur *Snapshot) (map[string][]byte, error)

// Update runs fn under the writer lock and commits what it returns as a new
// generation, whose name it returns (the current one if fn changed nothing).
// names are the files fn needs to see. It returns only once the new generation
// is durable.
func (g *Generations) Update(ctx context.Context, names []string, fn UpdateFunc) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	unlock, err := g.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, err := g.Load(names...)
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return "", err
	}
	defer cur.Clear()
	curGen := ""
	if cur != nil {
		curGen = cur.Generation
	}
	files, err := fn(cur)
	defer func() {
		for _, b := range files {
			clear(b)
		}
	}()
	if err != nil {
		return "", err
	}
	if files == nil {
		return curGen, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return g.commitLocked(curGen, files)
}

// lock takes the in-process mutex and the cross-process flock, creating the
// folder (0700) if needed.
func (g *Generations) lock() (func(), error) {
	g.mu.Lock()
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		g.mu.Unlock()
		return nil, fmt.Errorf("create keystore folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(g.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		g.mu.Unlock()
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		g.mu.Unlock()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() {
		f.Close() // closing the descriptor releases the flock
		g.mu.Unlock()
	}, nil
}

func (g *Generations) step(name string) error {
	if g.fault != nil {
		return g.fault(name)
	}
	return nil
}

func (g *Generations) commitLocked(curGen string, files map[string][]byte) (string, error) {
	gens, err := g.list()
	if err != nil {
		return "", err
	}
	next := 1
	if len(gens) > 0 {
		next = genNumber(gens[len(gens)-1]) + 1
	}
	name := fmt.Sprintf("%s%06d", genPrefix, next)
	gdir := filepath.Join(g.dir, name)
	if err := g.step("mkdir"); err != nil {
		return "", err
	}
	if err := os.Mkdir(gdir, 0o700); err != nil {
		return "", fmt.Errorf("create generation: %w", err)
	}
	// Files are written in place: the folder is invisible to readers until
	// current points at it, so it is itself the temporary.
	names := make([]string, 0, len(files))
	for n := range files {
		if !isPlainName(n) {
			return "", fmt.Errorf("file name %q: want a plain name", n)
		}
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := g.step("write " + n); err != nil {
			return "", err
		}
		if err := writeNew(filepath.Join(gdir, n), files[n]); err != nil {
			return "", err
		}
	}
	if err := g.step("sync generation"); err != nil {
		return "", err
	}
	if err := syncDir(gdir); err != nil {
		return "", err
	}
	if err := g.step("sync folder"); err != nil {
		return "", err
	}
	// The generation's entry in the parent must be durable before a link to it.
	if err := syncDir(g.dir); err != nil {
		return "", err
	}
	tmp := filepath.Join(g.dir, tmpPrefix+name)
	if err := g.step("symlink"); err != nil {
		return "", err
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("remove stale link: %w", err)
	}
	if err := os.Symlink(name, tmp); err != nil {
		return "", fmt.Errorf("link generation: %w", err)
	}
	if err := g.step("rename"); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(g.dir, currentLink)); err != nil {
		return "", fmt.Errorf("switch to generation %s: %w", name, err)
	}
	if err := g.step("sync after rename"); err != nil {
		return "", err
	}
	if err := syncDir(g.dir); err != nil {
		return "", err
	}
	g.log.Debug("keystore generation committed", zap.String("path", gdir), zap.String("previous", curGen))
	g.prune(name)
	return name, nil
}

// prune removes debris (generations above current, stray links) and all but
// keepOld earlier generations. Failures are logged: they cost disk, not safety.
func (g *Generations) prune(current string) {
	gens, err := g.list()
	if err != nil {
		g.log.Warn("keystore prune: list", zap.Error(err))
		return
	}
	cur := genNumber(current)
	var older []string
	for _, n := range gens {
		switch num := genNumber(n); {
		case num > cur:
			g.removeAll(n)
		case num < cur:
			older = append(older, n)
		}
	}
	if len(older) > keepOld {
		for _, n := range older[:len(older)-keepOld] {
			g.removeAll(n)
		}
	}
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			g.removeAll(e.Name())
		}
	}
}

func (g *Generations) removeAll(name string) {
	if err := os.RemoveAll(filepath.Join(g.dir, name)); err != nil {
		g.log.Warn("keystore prune: remove", zap.String("path", filepath.Join(g.dir, name)), zap.Error(err))
	}
}

// list returns the generation folders, oldest first.
func (g *Generations) list() ([]string, error) {
	ents, err := os.ReadDir(g.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", g.dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && genName.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.SortFunc(out, func(a, b string) int { return genNumber(a) - genNumber(b) })
	return out, nil
}

func genNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, genPrefix))
	return n
}

func isPlainName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, `/\`) && !strings.HasPrefix(n, ".")
}

// Reset removes every generation. current goes first, so an interrupted reset
// leaves no identity rather than half of one.
func (g *Generations) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(g.dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := g.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(filepath.Join(g.dir, currentLink)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reset: %w", err)
	}
	if err := syncDir(g.dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if genName.MatchString(e.Name()) || strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.RemoveAll(filepath.Join(g.dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return syncDir(g.dir)
}

// writeNew creates path 0600 (never widened later: umask can only take bits
// away), writes data and fsyncs it.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
