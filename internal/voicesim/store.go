package voicesim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Errors returned by the out-of-band Go API. They are sentinels so tests can
// check them with errors.Is.
var (
	// ErrUnknownAccount means no account with that SID was registered.
	ErrUnknownAccount = errors.New("voicesim: unknown account")
	// ErrNotFound means the account has no configuration with that id.
	ErrNotFound = errors.New("voicesim: configuration not found")
	// ErrConflict means another configuration of the account already has
	// that unique name.
	ErrConflict = errors.New("voicesim: unique name already in use")
	// ErrInvalid means the change would leave a configuration no console
	// could produce (an empty or whitespace-containing unique name).
	ErrInvalid = errors.New("voicesim: invalid configuration")
)

// Record is one Client Configuration as the simulator stores it. It is the
// simulator's own type, deliberately not the client's, so the simulator stays
// independent of the code it tests.
type Record struct {
	// ID is the remote id, voice_clientconfiguration_<32 lowercase hex>.
	ID string `json:"id"`
	// AccountSID is the account that owns the configuration.
	AccountSID string `json:"account_sid"`
	// UniqueName is unique per account and never contains whitespace.
	UniqueName string `json:"unique_name"`
	// Description is nil when the API would answer JSON null.
	Description *string `json:"description"`
	// ConfigurationType is "Client" for everything the API accepts.
	ConfigurationType string `json:"configuration_type"`
	// CallNotificationURL is configuration.callnotification.url.
	CallNotificationURL string `json:"callnotification_url"`
	// CallNotificationMethod is configuration.callnotification.method.
	CallNotificationMethod string `json:"callnotification_method"`
	// DateCreated is when the configuration was created (UTC).
	DateCreated time.Time `json:"date_created"`
	// DateUpdated is when it was last changed, by the API or out of band.
	DateUpdated time.Time `json:"date_updated"`
}

// clone returns a deep copy, so callers never share the stored description.
func (r Record) clone() Record {
	if r.Description != nil {
		d := *r.Description
		r.Description = &d
	}
	return r
}

// stored is a Record plus its creation sequence, which orders listings and
// makes page tokens stable while configurations come and go.
type stored struct {
	Record
	seq uint64
}

// account is one Twilio account's slice of the remote state. All fields are
// guarded by Server.mu.
type account struct {
	sid     string
	token   string
	byID    map[string]*stored
	byName  map[string]*stored
	order   []*stored // ascending seq
	nextSeq uint64
	def     string // id of the default configuration, "" when none
	// denied is the status every request answers while the account has
	// no access to the API (DenyAPI); 0 when it has.
	denied int
	// throttle, when positive, makes every request answer 429 with this
	// Retry-After (ThrottleAccount); throttled counts those answers.
	throttle  time.Duration
	throttled []time.Time
	// arrivals are the times its authenticated requests arrived
	// (Arrivals), for measurements of the client's rate limit.
	arrivals []time.Time
}

func newAccount(sid, token string) *account {
	return &account{
		sid:    sid,
		token:  token,
		byID:   map[string]*stored{},
		byName: map[string]*stored{},
	}
}

// lookup finds a configuration by id first, then by unique name, as a path
// segment of the API may hold either.
func (a *account) lookup(idOrName string) *stored {
	if st := a.byID[idOrName]; st != nil {
		return st
	}
	return a.byName[idOrName]
}

// insert stores a new configuration; the caller has filled ID and dates.
func (a *account) insert(r Record) (*stored, error) {
	if _, taken := a.byName[r.UniqueName]; taken {
		return nil, ErrConflict
	}
	a.nextSeq++
	st := &stored{Record: r.clone(), seq: a.nextSeq}
	a.byID[st.ID] = st
	a.byName[st.UniqueName] = st
	a.order = append(a.order, st)
	return st, nil
}

// replace swaps st's content for r, keeping identity, creation date and
// position in listings.
func (a *account) replace(st *stored, r Record) error {
	if other, taken := a.byName[r.UniqueName]; taken && other != st {
		return ErrConflict
	}
	delete(a.byName, st.UniqueName)
	r.ID, r.AccountSID, r.DateCreated = st.ID, st.AccountSID, st.DateCreated
	st.Record = r.clone()
	a.byName[st.UniqueName] = st
	return nil
}

// remove deletes st and, as Twilio does, clears the account default when it
// pointed at st.
func (a *account) remove(st *stored) {
	delete(a.byID, st.ID)
	delete(a.byName, st.UniqueName)
	i := sort.Search(len(a.order), func(i int) bool { return a.order[i].seq >= st.seq })
	if i < len(a.order) && a.order[i] == st {
		a.order = append(a.order[:i], a.order[i+1:]...)
	}
	if a.def == st.ID {
		a.def = ""
	}
}

// snapshot returns copies of all records in creation order.
func (a *account) snapshot() []Record {
	out := make([]Record, 0, len(a.order))
	for _, st := range a.order {
		out = append(out, st.clone())
	}
	return out
}

// Page tokens are opaque to clients but simple inside: "n<seq>" means "the
// page after the item with this sequence", "p<seq>" the page before it.
// Keying on the sequence rather than an offset keeps pagination stable when
// configurations are deleted between two page requests.
func encodeToken(dir byte, seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(dir) + strconv.FormatUint(seq, 10)))
}

var errBadToken = errors.New("invalid page token")

func decodeToken(tok string) (dir byte, seq uint64, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 2 || (raw[0] != 'n' && raw[0] != 'p') {
		return 0, 0, errBadToken
	}
	seq, err = strconv.ParseUint(string(raw[1:]), 10, 64)
	if err != nil {
		return 0, 0, errBadToken
	}
	return raw[0], seq, nil
}

// page returns one page of configurations and the tokens around it.
func (a *account) page(size int, token string) (items []*stored, next, prev string, err error) {
	start, end := 0, 0
	switch token {
	case "":
		end = min(size, len(a.order))
	default:
		dir, seq, err := decodeToken(token)
		if err != nil {
			return nil, "", "", err
		}
		if dir == 'n' {
			start = sort.Search(len(a.order), func(i int) bool { return a.order[i].seq > seq })
			end = min(start+size, len(a.order))
		} else {
			end = sort.Search(len(a.order), func(i int) bool { return a.order[i].seq >= seq })
			start = max(0, end-size)
		}
	}
	items = a.order[start:end]
	if end < len(a.order) && end > start {
		next = encodeToken('n', a.order[end-1].seq)
	}
	if start > 0 && end > start {
		prev = encodeToken('p', a.order[start].seq)
	}
	return items, next, prev, nil
}

// validUniqueName applies the reference's rule: required, no whitespace.
func validUniqueName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: unique_name is required", ErrInvalid)
	}
	if strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		return fmt.Errorf("%w: unique_name cannot contain spaces", ErrInvalid)
	}
	return nil
}
