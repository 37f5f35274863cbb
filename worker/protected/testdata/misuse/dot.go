package misuse

import . "github.com/orderflow/orderflow/worker/protected"

var dotted = SealCiphertexts // want SealCiphertexts

func parse(b []byte) (Document, error) { return ParseDocument(b) }
