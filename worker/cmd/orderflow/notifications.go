package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/orderflow/orderflow/worker/ebaydeletion"
	"github.com/orderflow/orderflow/worker/kafkaclient"
)

// notificationsCommand serves eBay's marketplace account-deletion endpoint
// (worker/ebaydeletion) until SIGTERM: every verified notification is written
// to kafka.topics.erasure before it is acknowledged, and `orderflow erase
// --consume` erases the user in every tenant that holds them.
func notificationsCommand(args []string, stderr io.Writer) int {
	fs, configPath := commandFlags("notifications", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel, cfg, log, err := startCommand("notifications", *configPath, stderr)
	if err != nil {
		return 2
	}
	defer cancel()
	n := cfg.EbayNotifications
	if err := n.Require(); err != nil {
		fmt.Fprintf(stderr, "orderflow notifications: config: %v\n", err)
		return 2
	}
	reg := newRegistry()
	defer serveWhileRunning(ctx, cfg, reg, log)()
	clients, err := kafkaclient.New(cfg.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow notifications: %v\n", err)
		return 2
	}
	writer := kafkaclient.SyncWriter(kafkaclient.WriterConfig{Brokers: cfg.Kafka.Brokers, Transport: clients.Transport, Topic: cfg.Kafka.Topics.Erasure})
	defer writer.Close()
	keys, err := ebaydeletion.NewKeyClient(ebaydeletion.KeyClientConfig{
		APIURL: n.APIURL, ClientID: n.ClientID, ClientSecret: n.ClientSecret.Value.Reveal(), TTL: n.KeyCacheTTL,
	})
	if err != nil {
		fmt.Fprintf(stderr, "orderflow notifications: %v\n", err)
		return 2
	}
	handler, err := ebaydeletion.New(ebaydeletion.Config{
		Endpoint: n.Endpoint, VerificationToken: n.VerificationToken.Value.Reveal(), Keys: keys,
		Publisher: ebaydeletion.KafkaPublisher{Writer: writer}, Registerer: reg, Logger: log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "orderflow notifications: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", n.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "orderflow notifications: ebay_notifications.listen: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		// eBay wants an answer at once; a Kafka write that takes longer is
		// answered 500 by then and sent again.
		WriteTimeout: 20 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // owned here: Shutdown below ends it
	log.Info("serving eBay's account-deletion endpoint", "listen", ln.Addr().String(), "endpoint", n.Endpoint, "topic", cfg.Kafka.Topics.Erasure)
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "orderflow notifications: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), cfg.Pipeline.ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "orderflow notifications: stopping: %v\n", err)
		return 1
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "orderflow notifications: %v\n", err)
		return 1
	}
	return 0
}
