package controlplane

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// mockPrefix is the first path segment of the mock-only calls.
const mockPrefix = "_mockcloud"

// maxMockBody bounds a mock call's JSON body.
const maxMockBody = 64 << 10

// maxAdvance bounds one clock step so seconds → time.Duration cannot overflow.
const maxAdvance = 100 * 365 * 24 * time.Hour

type healthBody struct {
	Healthy *bool `json:"healthy"`
}

type downBody struct {
	Down *bool `json:"down"`
}

type advanceBody struct {
	Seconds *float64 `json:"seconds"`
}

type clockAnswer struct {
	Now   string `json:"now"`   // RFC 3339, nanoseconds
	Epoch *epoch `json:"epoch"` // seconds since the epoch
}

func clockOf(t time.Time) clockAnswer {
	return clockAnswer{Now: t.UTC().Format(time.RFC3339Nano), Epoch: ts(t)}
}

// serveMock answers /_mockcloud/…; segs excludes the prefix. No SigV4 here.
func (h *Handler) serveMock(w http.ResponseWriter, r *http.Request, segs []string) {
	out, name, err := h.mockCall(r, segs)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.log.Info("mock call", zap.String("op", name))
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) mockCall(r *http.Request, segs []string) (any, string, error) {
	is := func(want ...string) bool {
		if len(segs) != len(want) {
			return false
		}
		for i, s := range want {
			if s != "*" && s != segs[i] {
				return false
			}
		}
		return true
	}
	switch {
	case is("health"):
		return onlyMethod(r, http.MethodGet, "Health", func() (any, error) {
			if h.opts.Health != nil {
				if err := h.opts.Health(); err != nil {
					return nil, apiErr(codeUnavailable, "unhealthy: "+err.Error())
				}
			}
			return struct {
				Status        string   `json:"status"`
				Regions       []string `json:"regions"`
				DefaultRegion string   `json:"defaultRegion"`
			}{"ok", h.names, h.opts.DefaultRegion}, nil
		})
	case is("dns", "records", "*", "health"):
		return onlyMethod(r, http.MethodPost, "SetRecordHealth", func() (any, error) {
			if h.opts.SetRecordHealth == nil {
				return nil, notImplemented("SetRecordHealth")
			}
			var b healthBody
			if err := decodeBody(r, &b); err != nil {
				return nil, err
			}
			if b.Healthy == nil {
				return nil, apiErr(codeInvalidRequest, `body needs "healthy": true or false`)
			}
			if err := h.opts.SetRecordHealth(segs[2], *b.Healthy); err != nil {
				return nil, err
			}
			return struct {
				SetID   string `json:"setId"`
				Healthy bool   `json:"healthy"`
			}{segs[2], *b.Healthy}, nil
		})
	case is("regions", "*", "faults"):
		return onlyMethod(r, http.MethodPost, "SetFaults", func() (any, error) {
			if h.opts.SetFaults == nil {
				return nil, notImplemented("SetFaults")
			}
			data, err := io.ReadAll(io.LimitReader(r.Body, maxMockBody+1))
			if err != nil {
				return nil, apiErr(codeInvalidRequest, "read body: "+err.Error())
			}
			if len(data) > maxMockBody {
				return nil, apiErr(codeInvalidRequest, fmt.Sprintf("body larger than %d bytes", maxMockBody))
			}
			if _, ok := h.regions[segs[1]]; !ok {
				return nil, apiErr(codeNotFound, fmt.Sprintf("no region %q", segs[1]))
			}
			if err := h.opts.SetFaults(segs[1], data); err != nil {
				return nil, err
			}
			return struct {
				Region string          `json:"region"`
				Faults json.RawMessage `json:"faults"`
			}{segs[1], json.RawMessage(data)}, nil
		})
	case is("regions", "*", "down"):
		return onlyMethod(r, http.MethodPost, "SetRegionDown", func() (any, error) {
			if h.opts.SetRegionDown == nil {
				return nil, notImplemented("SetRegionDown")
			}
			var b downBody
			if err := decodeBody(r, &b); err != nil {
				return nil, err
			}
			if b.Down == nil {
				return nil, apiErr(codeInvalidRequest, `body needs "down": true or false`)
			}
			if _, ok := h.regions[segs[1]]; !ok {
				return nil, apiErr(codeNotFound, fmt.Sprintf("no region %q", segs[1]))
			}
			if err := h.opts.SetRegionDown(segs[1], *b.Down); err != nil {
				return nil, err
			}
			return struct {
				Region string `json:"region"`
				Down   bool   `json:"down"`
			}{segs[1], *b.Down}, nil
		})
	case is("clock", "advance"):
		return onlyMethod(r, http.MethodPost, "AdvanceClock", func() (any, error) {
			if h.opts.AdvanceClock == nil {
				return nil, notImplemented("AdvanceClock")
			}
			var b advanceBody
			if err := decodeBody(r, &b); err != nil {
				return nil, err
			}
			if b.Seconds == nil || math.IsNaN(*b.Seconds) || *b.Seconds < 0 || *b.Seconds > maxAdvance.Seconds() {
				return nil, apiErr(codeInvalidRequest, fmt.Sprintf(`body needs "seconds" from 0 to %.0f`, maxAdvance.Seconds()))
			}
			now, err := h.opts.AdvanceClock(time.Duration(*b.Seconds * float64(time.Second)))
			if err != nil {
				return nil, err
			}
			return clockOf(now), nil
		})
	case is("clock"):
		return onlyMethod(r, http.MethodGet, "Clock", func() (any, error) {
			if h.opts.Now == nil {
				return nil, notImplemented("Now")
			}
			return clockOf(h.opts.Now()), nil
		})
	}
	return nil, "", apiErr(codeUnknownOperation, "no mock call at "+r.Method+" "+r.URL.Path)
}

func onlyMethod(r *http.Request, method, name string, fn func() (any, error)) (any, string, error) {
	if r.Method != method {
		return nil, name, apiErr(codeMethodNotAllowed, name+" takes "+method)
	}
	out, err := fn()
	return out, name, err
}

func notImplemented(hook string) error {
	return apiErr(codeNotImplemented, "this cloud was started without the "+hook+" hook")
}

// decodeBody reads one JSON object with known fields only and nothing after it.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxMockBody+1))
	if err != nil {
		return apiErr(codeInvalidRequest, "read body: "+err.Error())
	}
	if len(data) > maxMockBody {
		return apiErr(codeInvalidRequest, fmt.Sprintf("body larger than %d bytes", maxMockBody))
	}
	return decodeMockJSON(data, v)
}

func decodeMockJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiErr(codeInvalidRequest, "body: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiErr(codeInvalidRequest, "body: data after the JSON object")
	}
	return nil
}
