package consentrec_test

import (
	"fmt"
	"path/filepath"

	"github.com/consentrec/consentrec"
)

func ExampleDataDir() {
	d := consentrec.DataDir{Root: "/var/lib/consentrec"}
	fmt.Println(filepath.ToSlash(d.Audit()))
	fmt.Println(filepath.ToSlash(d.Recordings()))
	fmt.Println(filepath.ToSlash(d.Catalog()))
	// Output:
	// /var/lib/consentrec/audit
	// /var/lib/consentrec/recordings
	// /var/lib/consentrec/catalog.db
}
