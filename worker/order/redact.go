package order

import (
	"fmt"
	"log/slog"
)

// Redacted is what personal-data values print as.
const Redacted = "<redacted>"

// Buyer, Address and FreeText hold plaintext personal data. They print, format and
// log as Redacted whatever the verb, so that an order passed to a logger or an
// error message cannot leak a buyer: %v, %+v, %#v, %s and slog all show Redacted.

func (Buyer) String() string                      { return Redacted }
func (Buyer) GoString() string                    { return Redacted }
func (b Buyer) Format(f fmt.State, verb rune)     { redactFormat(f) }
func (Buyer) LogValue() slog.Value                { return slog.StringValue(Redacted) }
func (Address) String() string                    { return Redacted }
func (Address) GoString() string                  { return Redacted }
func (a Address) Format(f fmt.State, verb rune)   { redactFormat(f) }
func (Address) LogValue() slog.Value              { return slog.StringValue(Redacted) }
func (FreeText) String() string                   { return Redacted }
func (FreeText) GoString() string                 { return Redacted }
func (ft FreeText) Format(f fmt.State, verb rune) { redactFormat(f) }
func (FreeText) LogValue() slog.Value             { return slog.StringValue(Redacted) }

func redactFormat(f fmt.State) { _, _ = f.Write([]byte(Redacted)) }

// LogValue logs an order by its identity only: tenant, channel, order id, status.
func (o Order) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tenant_id", o.TenantID),
		slog.String("channel", string(o.Channel)),
		slog.String("channel_order_id", o.ChannelOrderID),
		slog.String("status", string(o.Status)),
	)
}
