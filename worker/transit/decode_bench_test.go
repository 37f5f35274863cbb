package transit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// vaultEncryptAnswer is a 256-item transit/encrypt answer as Vault sends it.
func vaultEncryptAnswer() []byte {
	var b strings.Builder
	b.WriteString(`{"request_id":"5f1c1a4e-7b1e-4c55-b1a1-3c1b2d7e9a10","lease_id":"","renewable":false,"lease_duration":0,"data":{"batch_results":[`)
	for i := range 256 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ciphertext":"vault:v1:%s","key_version":1,"reference":"%d"}`, strings.Repeat("Qm9vdHNBbmRDYXRz", 12), i)
	}
	b.WriteString(`]},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"transit"}`)
	return []byte(b.String())
}

func TestDecodeBatchAnswerMatchesEncodingJSON(t *testing.T) {
	answer := vaultEncryptAnswer()
	got, err := decodeBatchAnswer(bytes.NewReader(answer))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Data struct {
			BatchResults []batchResult `json:"batch_results"`
		} `json:"data"`
	}
	if err := json.Unmarshal(answer, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != 256 || fmt.Sprint(got) != fmt.Sprint(want.Data.BatchResults) {
		t.Errorf("decoded %d results, differing from encoding/json's", len(got))
	}
	// An error item and an answer that is not JSON.
	items, err := decodeBatchAnswer(strings.NewReader(`{"data":{"batch_results":[{"error":"invalid base64","reference":"0"}]}}`))
	if err != nil || len(items) != 1 || items[0].Error != "invalid base64" {
		t.Errorf("error item: %+v, %v", items, err)
	}
	if _, err := decodeBatchAnswer(strings.NewReader(`<html>`)); err == nil {
		t.Error("an HTML answer decoded")
	}
}

func BenchmarkDecodeBatchAnswer(b *testing.B) {
	answer := vaultEncryptAnswer()
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(answer)))
		b.ReportAllocs()
		for b.Loop() {
			var a struct {
				Data struct {
					BatchResults []batchResult `json:"batch_results"`
				} `json:"data"`
			}
			if err := json.NewDecoder(bytes.NewReader(answer)).Decode(&a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-v2", func(b *testing.B) {
		b.SetBytes(int64(len(answer)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeBatchAnswer(bytes.NewReader(answer)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
