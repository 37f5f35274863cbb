package kafkaacl

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// scramIterations is the PBKDF2 count of the credentials SetSCRAM stores:
// Kafka's own tool's default (its minimum is 4096).
const scramIterations = 8192

// SetSCRAM stores a SCRAM-SHA-512 credential for user on the brokers (in
// KRaft, through the controller), replacing one it had. The password never
// leaves this process: the brokers get a salt and the salted password. For the
// local stack and tests; production's users belong to the Kafka operators.
func SetSCRAM(ctx context.Context, client *kafka.Client, user, password string) error {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("kafka scram %s: salt: %w", user, err)
	}
	salted, err := pbkdf2.Key(sha512.New, password, salt, scramIterations, sha512.Size)
	if err != nil {
		return fmt.Errorf("kafka scram %s: %w", user, err)
	}
	resp, err := client.AlterUserScramCredentials(ctx, &kafka.AlterUserScramCredentialsRequest{
		Upsertions: []kafka.UserScramCredentialsUpsertion{{
			Name: user, Mechanism: kafka.ScramMechanismSha512, Iterations: scramIterations, Salt: salt, SaltedPassword: salted,
		}},
	})
	if err == nil {
		for _, r := range resp.Results {
			err = errors.Join(err, r.Error)
		}
	}
	if err != nil {
		return fmt.Errorf("kafka scram %s: %w", user, err)
	}
	return nil
}
