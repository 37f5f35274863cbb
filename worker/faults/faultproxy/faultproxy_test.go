package faultproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return l.Addr().String()
}

func roundTrip(t *testing.T, addr, line string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// The TCP proxy forwards, adds its delay both ways, refuses while told to and
// forwards again after.
func TestTCPDelaysRefusesAndRecovers(t *testing.T) {
	p, err := NewTCP(t.Context(), echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(t, p.Addr(), "hello"); err != nil || got != "hello\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	p.SetDelay(100 * time.Millisecond)
	start := time.Now()
	if _, err := roundTrip(t, p.Addr(), "slow"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("a round trip with 100 ms each way took %s", d)
	}
	p.SetDelay(0)

	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	p.Refuse(true)
	if _, err := roundTrip(t, p.Addr(), "refused"); err == nil {
		t.Error("a refusing proxy answered")
	}
	_ = open.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("an open connection was not cut: %v", err)
	}
	p.Accept()
	if got, err := roundTrip(t, p.Addr(), "back"); err != nil || got != "back\n" {
		t.Fatalf("after Accept: %q, %v", got, err)
	}
}

// The HTTP proxy passes, fails every nth request 5xx, answers sealed as Vault
// does, and drops connections while down.
func TestHTTPModes(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer backend.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := NewHTTP(ctx, backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func() (int, string, error) {
		resp, err := client.Get(p.URL() + "/v1/transit/encrypt/x")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := get(); err != nil || code != 200 || body != "ok" {
		t.Fatalf("pass: %d %q %v", code, body, err)
	}
	p.SetMode(Flaky)
	failed := 0
	for range 30 {
		code, _, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if code >= 500 {
			failed++
		}
	}
	if failed != 10 {
		t.Errorf("flaky failed %d of 30 requests, want a third", failed)
	}
	p.SetMode(Sealed)
	if code, body, _ := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "Vault is sealed") {
		t.Errorf("sealed: %d %q", code, body)
	}
	p.SetMode(Down)
	if _, _, err := get(); err == nil {
		t.Error("a down proxy answered")
	}
	p.SetMode(Pass)
	if code, _, err := get(); err != nil || code != 200 {
		t.Errorf("after Down: %d %v", code, err)
	}
	// Go's client tries an idempotent request again once when its connection
	// closes unanswered, so Down may count two; the passed ones are exact.
	if req, f := p.Counts(); req-f != 22 {
		t.Errorf("counts: %d requests, %d failed; want 22 passed", req, f)
	}
}
