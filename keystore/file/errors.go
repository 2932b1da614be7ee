package file

import (
	"fmt"
	"io/fs"

	"github.com/fleetboot/fleetboot/keystore"
)

// FolderPermissionError reports a keystore folder, or one of its generation
// folders, that group or others may enter, list or write: they could read file
// names, or swap the files a key is loaded from. Its message says how to fix it.
type FolderPermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *FolderPermissionError) Error() string {
	return fmt.Sprintf("key folder %s has mode %04o, open to group or others: run `chmod 700 %s`", e.Path, uint32(e.Mode.Perm()), e.Path)
}

// Is makes errors.Is(err, keystore.ErrInsecurePermissions) true.
func (e *FolderPermissionError) Is(target error) bool {
	return target == keystore.ErrInsecurePermissions
}
