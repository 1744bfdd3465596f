package s3store

import (
	"errors"
	"io/fs"
	"os"
)

func dirFS(dir string) fs.FS { return os.DirFS(dir) }

func isErrNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
