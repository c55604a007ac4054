package voicesim

import (
	"fmt"
	"maps"
	"slices"
)

// This file is the simulator's Go API for tests: counters, the remote
// state, and changes made "out of band", as a person would in the Console.

// Calls returns a copy of the call counters, keyed "METHOD route-template"
// (for example "POST /v2/Configurations/Client"). Every API request that
// reached the handler is counted, faulted or not, authenticated or not.
func (s *Server) Calls() map[string]int {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return maps.Clone(s.calls)
}

// CallCount returns the number of calls with this method to this route
// template (one of the Route constants).
func (s *Server) CallCount(method, route string) int {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return s.calls[method+" "+route]
}

// FaultCounts returns a copy of the injected-fault counters, keyed by the
// Fault constants and "malformed-<kind>".
func (s *Server) FaultCounts() map[string]int {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return maps.Clone(s.faultCounts)
}

// ResetCalls zeroes the call counters and the fault counters, and forgets
// the arrivals.
func (s *Server) ResetCalls() {
	s.countMu.Lock()
	clear(s.calls)
	clear(s.faultCounts)
	s.countMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		a.arrivals = nil
	}
}

// Configurations returns a copy of an account's configurations in creation
// order; nil for an unknown account.
func (s *Server) Configurations(accountSID string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountSID]
	if a == nil {
		return nil
	}
	return a.snapshot()
}

// Default returns the id of the account's default configuration, or "".
func (s *Server) Default(accountSID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountSID]; a != nil {
		return a.def
	}
	return ""
}

// Accounts returns the registered account SIDs, sorted.
func (s *Server) Accounts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.accounts)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// account returns the account or ErrUnknownAccount; s.mu must be held.
func (s *Server) account(sid string) (*account, error) {
	a := s.accounts[sid]
	if a == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, sid)
	}
	return a, nil
}

// locate finds an account's configuration by id or unique name; s.mu must
// be held.
func (s *Server) locate(accountSID, id string) (*account, *stored, error) {
	a, err := s.account(accountSID)
	if err != nil {
		return nil, nil, err
	}
	st := a.lookup(id)
	if st == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return a, st, nil
}

// CreateOutOfBand creates a configuration as a person would in the Console,
// bypassing the API (no call is counted, no fault applies). ID, AccountSID
// and dates in r are ignored; an empty ConfigurationType becomes "Client"
// and an empty method "POST". It returns the new id.
func (s *Server) CreateOutOfBand(accountSID string, r Record) (string, error) {
	if err := validUniqueName(r.UniqueName); err != nil {
		return "", err
	}
	if r.ConfigurationType == "" {
		r.ConfigurationType = configurationType
	}
	if r.CallNotificationMethod == "" {
		r.CallNotificationMethod = defaultMethod
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(accountSID)
	if err != nil {
		return "", err
	}
	now := s.now()
	r.ID, r.AccountSID, r.DateCreated, r.DateUpdated = newID(), accountSID, now, now
	st, err := a.insert(r)
	if err != nil {
		return "", err
	}
	return st.ID, nil
}

// EditOutOfBand changes a configuration (by id or unique name) as a person
// would in the Console: fn edits a copy, which replaces the stored record.
// ID, AccountSID and DateCreated cannot change; DateUpdated is set to now.
// Any other value is accepted as is, so tests can plant drift the API would
// refuse, except an invalid or already-used unique name.
func (s *Server) EditOutOfBand(accountSID, id string, fn func(*Record)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, st, err := s.locate(accountSID, id)
	if err != nil {
		return err
	}
	rec := st.clone()
	fn(&rec)
	if err := validUniqueName(rec.UniqueName); err != nil {
		return err
	}
	rec.DateUpdated = s.now()
	return a.replace(st, rec)
}

// DeleteOutOfBand deletes a configuration (by id or unique name) as a
// person would in the Console, clearing the default if it pointed there.
func (s *Server) DeleteOutOfBand(accountSID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, st, err := s.locate(accountSID, id)
	if err != nil {
		return err
	}
	a.remove(st)
	return nil
}

// SetDefaultOutOfBand points the account default at a configuration (by id
// or unique name); an empty id clears it.
func (s *Server) SetDefaultOutOfBand(accountSID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(accountSID)
	if err != nil {
		return err
	}
	if id == "" {
		a.def = ""
		return nil
	}
	_, st, err := s.locate(accountSID, id)
	if err != nil {
		return err
	}
	a.def = st.ID
	return nil
}
