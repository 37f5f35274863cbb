package transit

import "github.com/hashicorp/vault/api"

// VaultAPI returns the client's Vault API client, logged in with the
// client's token (kept renewed until Close), for other uses of the same
// Vault login: the purge lease (worker/lease) reads and writes a KV entry
// with it. Requests through it are not retried or metered by this package.
func (c *Client) VaultAPI() *api.Client { return c.vc }
