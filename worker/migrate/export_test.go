package migrate

import (
	"context"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// UpTo is Up for the migrations up to version alone: tests put the schema in
// the state an older binary left it in. Not safe for concurrent use.
func (m *Migrator) UpTo(ctx context.Context, version int) ([]schema.Migration, error) {
	all := m.migrations
	defer func() { m.migrations = all }()
	m.migrations = all[:version]
	return m.Up(ctx)
}
