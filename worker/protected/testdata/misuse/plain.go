package misuse

import "github.com/orderflow/orderflow/worker/protected"

func plain(v []string) protected.Token {
	return protected.SealTokens(v)[0] // want SealTokens
}
