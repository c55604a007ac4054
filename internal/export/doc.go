// Package export turns the Client Configurations of an existing Twilio
// account into YAML for this operator: one ClientConfiguration per remote
// configuration, each field exactly as Twilio holds it, and an
// AccountDefault for the account's default. Applied, the objects adopt what
// is there, so the first reconcile finds nothing to change and writes
// nothing to Twilio.
//
// It is the `voice-operator export` subcommand (Main); Collect reads the
// account, Build decides the objects, and WriteStream and WriteDir render
// them, byte for byte the same for an unchanged account.
package export
