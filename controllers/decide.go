package controllers

import (
	"time"

	"github.com/twilio-operator/voice-operator/internal/voice"
)

// observation is what observe found for one ClientConfiguration, for every
// policy and for its deletion. It is read from the object as the
// apiserver holds it (the cache keeps every field a decision reads), the
// remote side, and the claims component; observing changes nothing.
type observation struct {
	// What the object asks for.
	observeOnly bool // managementPolicy ObserveOnly: read, never write
	deleting    bool // deletionTimestamp set
	orphan      bool // deletionPolicy Orphan
	adopt       bool // the adopt annotation

	// owned is the configuration this object owns (under ObserveOnly: the
	// one it reads by status.id): by status.id, or proven by the
	// create-intent marker (recovered).
	owned     *voice.Configuration
	recovered bool
	// vanished is the status.id (or created id) that answered 404.
	vanished string
	// unconfirmed: vanished, or (ObserveOnly) no configuration has the
	// name, but the credentials were never seen to act on the account, so
	// the answer may be another account's.
	unconfirmed bool
	// holder has the spec's unique name, when nothing is owned: someone
	// else's, as far as this object can prove.
	holder *voice.Configuration
	// freeAt is when the List started that showed the name free.
	freeAt time.Time
	// rival is another object that owns owned, or holder.
	rival string
	// creator is another object that may be creating the spec's unique
	// name right now (its attempt's outcome is unknown).
	creator string
	// drifted lists the fields in which owned (or else holder) differs
	// from the spec.
	drifted []string

	// strays are configurations an earlier attempt of this object made,
	// proven by the marker, that it does not own: a late commit of an
	// attempt whose spec changed before the next one.
	strays []voice.Configuration
	// resolved are the indexes of the marker's attempts whose outcome this
	// observation learned; pending counts those still unknown, and
	// pendingUntil is when the first of them will be known.
	resolved     []int
	pending      int
	pendingUntil time.Time
	// elsewhere is who sent an attempt of unknown outcome, when not the
	// current credentials: what it made only those can look for.
	elsewhere string
}

// action is what a reconcile does about an observation: exactly one.
type action int

const (
	// actCreate POSTs the spec (the name is free).
	actCreate action = iota
	// actManage keeps the owned configuration equal to the spec (a full PUT
	// on drift).
	actManage
	// actAdopt takes the holder over (the adopt annotation), then manages it.
	actAdopt
	// actAlreadyExists stalls: the name is someone else's configuration.
	actAlreadyExists
	// actConflict stalls: another object owns the configuration.
	actConflict
	// actReport records what an ObserveOnly object reads.
	actReport
	// actNotFound reports that an ObserveOnly object finds nothing.
	actNotFound
	// actDeleteStrays deletes configurations proven to be this object's
	// that it does not own (late commits), before anything else.
	actDeleteStrays
	// actWait waits until the outcome of earlier create attempts is known.
	actWait
	// actUnconfirmed stalls: a 404 the credentials cannot vouch for.
	actUnconfirmed
	// actDelete DELETEs the owned configuration, then releases the
	// finalizer.
	actDelete
	// actRelease releases the finalizer, deleting nothing: nothing is
	// owned, the policy leaves it, or another object manages it.
	actRelease
)

var actionNames = [...]string{"Create", "Manage", "Adopt", "AlreadyExists", "Conflict", "Report", "NotFound",
	"DeleteStrays", "Wait", "Unconfirmed", "Delete", "Release"}

func (a action) String() string { return actionNames[a] }

// decide is the one place that chooses what a ClientConfiguration's
// reconcile does. It is pure: the same observation always gives the same
// action (decide_test.go has the table).
func decide(s observation) action {
	switch {
	case s.deleting && (s.orphan || s.observeOnly):
		return actRelease
	case len(s.strays) > 0 && !s.observeOnly:
		return actDeleteStrays
	case s.observeOnly && (s.owned != nil || s.holder != nil):
		return actReport
	case s.observeOnly && s.unconfirmed:
		return actUnconfirmed
	case s.observeOnly:
		return actNotFound
	case s.rival != "" && s.deleting:
		return actRelease // another object manages it: left in place
	case s.rival != "":
		return actConflict
	case s.deleting && s.pending > 0:
		return actWait // a late commit after the release would leak
	case s.deleting && s.owned != nil:
		return actDelete
	case s.unconfirmed, s.deleting && s.elsewhere != "":
		return actUnconfirmed
	case s.deleting:
		return actRelease
	case s.owned != nil:
		return actManage
	case s.holder != nil && s.adopt:
		return actAdopt
	case s.holder != nil:
		return actAlreadyExists
	case s.pending >= maxAttempts, s.creator != "":
		return actWait
	}
	return actCreate
}
