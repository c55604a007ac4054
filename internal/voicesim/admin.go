package voicesim

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
)

// AccountState is one account's remote state, as GET /_sim/state shows it.
// Auth tokens and secrets are never part of it.
type AccountState struct {
	// AccountSID identifies the account.
	AccountSID string `json:"account_sid"`
	// Default is the id of the default configuration, "" when none.
	Default string `json:"default"`
	// Configurations are the account's configurations in creation order.
	Configurations []Record `json:"configurations"`
}

// State returns every account's state, sorted by account SID.
func (s *Server) State() []AccountState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AccountState, 0, len(s.accounts))
	for _, sid := range sortedKeys(s.accounts) {
		a := s.accounts[sid]
		out = append(out, AccountState{AccountSID: sid, Default: a.def, Configurations: a.snapshot()})
	}
	return out
}

// CallsReport is the body of GET /_sim/calls.
type CallsReport struct {
	// Calls are the call counters, as Calls returns them.
	Calls map[string]int `json:"calls"`
	// Faults are the injected-fault counters, as FaultCounts returns them.
	Faults map[string]int `json:"faults"`
}

// recordPatch is the body of an out-of-band edit: absent fields are left
// alone; "description": null clears the description.
type recordPatch struct {
	UniqueName             *string         `json:"unique_name"`
	Description            json.RawMessage `json:"description"`
	ConfigurationType      *string         `json:"configuration_type"`
	CallNotificationURL    *string         `json:"callnotification_url"`
	CallNotificationMethod *string         `json:"callnotification_method"`
}

// adminMux routes the /_sim/ surface:
//
//	GET    /_sim/state                                   all accounts (AccountState list)
//	GET    /_sim/calls                                   CallsReport
//	GET    /_sim/faults, PUT /_sim/faults                Faults as JSON (durations as "250ms")
//	POST   /_sim/reset-calls                             zero the counters
//	POST   /_sim/accounts                                {"account_sid","auth_token"} or {"account_sid","api_key","api_secret"}
//	POST   /_sim/accounts/{sid}/configurations           create out of band (Record JSON) → {"id"}
//	PATCH  /_sim/accounts/{sid}/configurations/{id}      edit out of band (recordPatch)
//	DELETE /_sim/accounts/{sid}/configurations/{id}      delete out of band
//	PUT    /_sim/accounts/{sid}/default                  {"configuration_id": id or ""}
func (s *Server) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, r *http.Request) {
		writeAdmin(w, http.StatusOK, map[string]any{"accounts": s.State()})
	})
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		writeAdmin(w, http.StatusOK, CallsReport{Calls: s.Calls(), Faults: s.FaultCounts()})
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeAdmin(w, http.StatusOK, s.CurrentFaults())
	})
	mux.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !readAdmin(w, r, &f) {
			return
		}
		if err := f.Validate(); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		s.SetFaults(f)
		writeAdmin(w, http.StatusOK, s.CurrentFaults())
	})
	mux.HandleFunc("POST /_sim/reset-calls", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/accounts", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			AccountSID string `json:"account_sid"`
			AuthToken  string `json:"auth_token"`
			APIKey     string `json:"api_key"`
			APISecret  string `json:"api_secret"`
		}
		if !readAdmin(w, r, &in) {
			return
		}
		switch {
		case in.AccountSID == "":
			adminError(w, http.StatusBadRequest, errors.New("account_sid is required"))
			return
		case in.APIKey != "":
			s.AddAPIKey(in.AccountSID, in.APIKey, in.APISecret)
		default:
			s.AddAccount(in.AccountSID, in.AuthToken)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/accounts/{sid}/configurations", func(w http.ResponseWriter, r *http.Request) {
		var rec Record
		if !readAdmin(w, r, &rec) {
			return
		}
		id, err := s.CreateOutOfBand(r.PathValue("sid"), rec)
		if err != nil {
			adminError(w, adminStatus(err), err)
			return
		}
		writeAdmin(w, http.StatusCreated, map[string]string{"id": id})
	})
	mux.HandleFunc("PATCH /_sim/accounts/{sid}/configurations/{id}", func(w http.ResponseWriter, r *http.Request) {
		var p recordPatch
		if !readAdmin(w, r, &p) {
			return
		}
		var desc *string
		clearDesc := string(p.Description) == "null"
		if len(p.Description) > 0 && !clearDesc {
			if err := json.Unmarshal(p.Description, &desc); err != nil {
				adminError(w, http.StatusBadRequest, err)
				return
			}
		}
		sid, id := r.PathValue("sid"), r.PathValue("id")
		err := s.EditOutOfBand(sid, id, func(rec *Record) {
			if p.UniqueName != nil {
				rec.UniqueName = *p.UniqueName
			}
			if clearDesc {
				rec.Description = nil
			} else if desc != nil {
				rec.Description = desc
			}
			if p.ConfigurationType != nil {
				rec.ConfigurationType = *p.ConfigurationType
			}
			if p.CallNotificationURL != nil {
				rec.CallNotificationURL = *p.CallNotificationURL
			}
			if p.CallNotificationMethod != nil {
				rec.CallNotificationMethod = *p.CallNotificationMethod
			}
		})
		if err != nil {
			adminError(w, adminStatus(err), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/accounts/{sid}/configurations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteOutOfBand(r.PathValue("sid"), r.PathValue("id")); err != nil {
			adminError(w, adminStatus(err), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sim/accounts/{sid}/default", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ConfigurationID string `json:"configuration_id"`
		}
		if !readAdmin(w, r, &in) {
			return
		}
		if err := s.SetDefaultOutOfBand(r.PathValue("sid"), in.ConfigurationID); err != nil {
			adminError(w, adminStatus(err), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// serveAdmin serves /_sim/ to loopback clients only: it has no
// authentication and can rewrite every account's state.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		adminError(w, http.StatusForbidden, errors.New("the /_sim/ admin surface answers loopback clients only"))
		return
	}
	s.adminOnce.Do(func() { s.admin = s.adminMux() })
	s.admin.ServeHTTP(w, r)
}

func adminStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownAccount), errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

func readAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err == nil && len(b) > maxRequestBody {
		err = errors.New("request body too large")
	}
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, err error) {
	writeAdmin(w, status, map[string]string{"error": err.Error()})
}
