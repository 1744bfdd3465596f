package retention_test

import (
	"testing"

	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

func TestMemCatalog(t *testing.T) {
	retentiontest.TestCatalog(t, func(*testing.T) retention.Catalog { return retention.NewMemCatalog() })
}

func TestMemCatalogSweepCrash(t *testing.T) {
	retentiontest.TestSweepCrash(t, func(*testing.T) retention.Catalog { return retention.NewMemCatalog() })
}

func TestMemCatalogSweepConcurrent(t *testing.T) {
	retentiontest.TestSweepConcurrent(t, func(*testing.T) retention.Catalog { return retention.NewMemCatalog() })
}
