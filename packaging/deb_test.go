package packaging

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDebContents checks every file of the package: its mode, its owner, and
// for the files made from this folder, that they are what is here.
func TestDebContents(t *testing.T) {
	d := deb(t)
	files := archive(t, d, "--fsys-tarfile")
	want := map[string]struct {
		mode fs.FileMode
		src  string // the file in this folder it is, if any
	}{
		"/usr/bin/fleetboot":                                    {0o755, ""},
		"/usr/libexec/fleetboot/wait-online":                    {0o755, "libexec/wait-online"},
		"/usr/lib/systemd/system/fleetboot.service":             {0o644, "systemd/fleetboot.service"},
		"/usr/lib/systemd/system/fleetboot-wait-online.service": {0o644, "systemd/fleetboot-wait-online.service"},
		"/usr/lib/systemd/system/fleetboot-online.target":       {0o644, "systemd/fleetboot-online.target"},
		"/etc/fleetboot/config.yaml":                            {0o644, "config.yaml"},
		"/usr/share/doc/fleetboot/copyright":                    {0o644, "debian/copyright"},
		"/usr/share/doc/fleetboot/changelog.Debian.gz":          {0o644, ""},
		"/usr/share/man/man8/fleetboot.8.gz":                    {0o644, ""},
		"/usr/share/lintian/overrides/fleetboot":                {0o644, "lintian-overrides"},
	}
	for name, e := range files {
		if e.hdr.Uname != "root" || e.hdr.Gname != "root" || e.hdr.Uid != 0 || e.hdr.Gid != 0 {
			t.Errorf("%s owned by %s:%s (%d:%d), want root:root", name, e.hdr.Uname, e.hdr.Gname, e.hdr.Uid, e.hdr.Gid)
		}
		mode := fs.FileMode(e.hdr.Mode).Perm()
		if e.hdr.Typeflag == '5' {
			if mode != 0o755 {
				t.Errorf("folder %s mode %o, want 755", name, mode)
			}
			continue
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected file %s in the package", name)
			continue
		}
		if mode != w.mode {
			t.Errorf("%s mode %o, want %o", name, mode, w.mode)
		}
		if w.src != "" {
			src, err := os.ReadFile(w.src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(src, e.data) {
				t.Errorf("%s is not packaging/%s", name, w.src)
			}
		}
	}
	for name := range want {
		if _, ok := files[name]; !ok {
			t.Errorf("%s missing from the package", name)
		}
	}

	// The man page and changelog: gzip -n -9 (no name, no time: rebuilds are equal).
	man := gunzip(t, files, "/usr/share/man/man8/fleetboot.8.gz")
	if src, _ := os.ReadFile("man/fleetboot.8"); !bytes.Equal(man, src) {
		t.Error("the packaged man page is not packaging/man/fleetboot.8")
	}
	version := field(t, d, "Version")
	changelog := string(gunzip(t, files, "/usr/share/doc/fleetboot/changelog.Debian.gz"))
	if !strings.HasPrefix(changelog, "fleetboot ("+version+") ") {
		t.Errorf("changelog starts %q, want version %s", firstLine(changelog), version)
	}

	// The release binary: static, for amd64.
	f, err := elf.NewFile(bytes.NewReader(files["/usr/bin/fleetboot"].data))
	if err != nil {
		t.Fatalf("/usr/bin/fleetboot: %v", err)
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("/usr/bin/fleetboot is for %v", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/usr/bin/fleetboot is dynamically linked")
		}
	}
}

func gunzip(t *testing.T, files map[string]entry, name string) []byte {
	t.Helper()
	e, ok := files[name]
	if !ok {
		t.Fatalf("%s missing", name)
	}
	zr, err := gzip.NewReader(bytes.NewReader(e.data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("%s has a name %q or time %v in its gzip header: want gzip -n", name, zr.Name, zr.ModTime)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestDebControl checks the control file, the conffiles and the maintainer scripts.
func TestDebControl(t *testing.T) {
	d := deb(t)
	for name, want := range map[string]string{
		"Package":      "fleetboot",
		"Architecture": "amd64",
		"Depends":      "adduser",
		"Recommends":   "tpm-udev",
		"Section":      "net",
		"Priority":     "optional",
	} {
		if got := field(t, d, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	version := field(t, d, "Version")
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*-[0-9]+$`).MatchString(version) {
		t.Errorf("Version %q: want a Debian upstream version and a revision", version)
	}
	if !strings.HasSuffix(d, "/fleetboot_"+version+"_amd64.deb") {
		t.Errorf("package file %s: want fleetboot_%s_amd64.deb", d, version)
	}

	out, err := exec.Command(need(t, "dpkg-deb", "dpkg"), "--info", d).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"conffiles", "postinst", "prerm", "postrm"} {
		if !strings.Contains(string(out), " "+s+" ") {
			t.Errorf("dpkg-deb --info lists no %s:\n%s", s, out)
		}
	}
	ctrl := archive(t, d, "--ctrl-tarfile")
	if got := strings.Fields(string(ctrl["/conffiles"].data)); !slices.Equal(got, []string{"/etc/fleetboot/config.yaml"}) {
		t.Errorf("conffiles %q, want /etc/fleetboot/config.yaml alone", got)
	}
	for script, src := range map[string]string{"/postinst": "debian/postinst", "/prerm": "debian/prerm", "/postrm": "debian/postrm"} {
		e, ok := ctrl[script]
		if !ok {
			t.Errorf("no %s", script)
			continue
		}
		if m := fs.FileMode(e.hdr.Mode).Perm(); m != 0o755 {
			t.Errorf("%s mode %o, want 755", script, m)
		}
		if b, _ := os.ReadFile(src); !bytes.Equal(b, e.data) {
			t.Errorf("%s is not packaging/%s", script, src)
		}
	}
	if _, ok := ctrl["/preinst"]; ok {
		t.Error("a preinst: the user is made in postinst")
	}
}

// TestLintian runs lintian on the package: any error or warning not declared in
// lintian-overrides fails, and so does an override that matches nothing.
func TestLintian(t *testing.T) {
	lintian := need(t, "lintian", "lintian")
	d := deb(t)
	cmd := exec.Command(lintian, "--fail-on", "error,warning", "--info", "--tag-display-limit", "0", d)
	out, err := cmd.CombinedOutput()
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "E: "), strings.HasPrefix(l, "W: "),
			strings.Contains(l, "unused-override"), strings.Contains(l, "mismatched-override"):
			bad = append(bad, l)
		}
	}
	if err != nil || len(bad) > 0 {
		t.Fatalf("lintian: %v\n%s", err, strings.Join(bad, "\n"))
	}
	t.Logf("lintian:\n%s", out)
}

// TestMaintainerScriptsParse runs sh -n on each maintainer script and the wait
// script.
func TestMaintainerScriptsParse(t *testing.T) {
	for _, s := range []string{"debian/postinst", "debian/prerm", "debian/postrm", "libexec/wait-online"} {
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
}
