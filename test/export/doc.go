// Package export_test proves `voice-operator export` end to end: an account
// in the simulator is exported with the built binary, applied with the real
// kubectl, adopted by the operator without a single write to the account,
// and deleted again leaving the account byte for byte as it was. `make
// test` runs it against the reference's shape of the API and again against
// the extended one.
package export_test
