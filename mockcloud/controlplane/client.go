package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// clientAccessKey is the fake access key id the client puts in its credential
// scope; the mock never checks signatures.
const clientAccessKey = "AKIDMOCKCLOUD"

// maxResponse bounds one response body read by the client.
const maxResponse = 16 << 20

// ListThings lists every thing of region from the control plane at baseURL
// (e.g. http://127.0.0.1:4566), following nextToken across pages. The request
// carries an unsigned SigV4 Authorization header whose credential scope names the
// region, which is all the mock reads. A non-2xx answer is an *APIError.
func ListThings(ctx context.Context, baseURL, region string) ([]ThingSummary, error) {
	if !validRegionName(region) {
		return nil, fmt.Errorf("list things: %w: region %q", ErrInvalidArgument, region)
	}
	base, err := url.Parse(strings.TrimRight(baseURL, "/") + "/things")
	if err != nil {
		return nil, fmt.Errorf("list things: base URL: %w", err)
	}
	var (
		all  []ThingSummary
		seen = map[string]bool{}
	)
	token := ""
	for {
		u := *base
		q := url.Values{"maxResults": {"250"}}
		if token != "" {
			q.Set("nextToken", token)
		}
		u.RawQuery = q.Encode()
		var page struct {
			Things    []ThingSummary `json:"things"`
			NextToken string         `json:"nextToken"`
		}
		if err := getJSON(ctx, u.String(), region, &page); err != nil {
			return nil, fmt.Errorf("list things in %s: %w", region, err)
		}
		all = append(all, page.Things...)
		if page.NextToken == "" {
			return all, nil
		}
		if seen[page.NextToken] {
			return nil, fmt.Errorf("list things in %s: server repeated a nextToken", region)
		}
		seen[page.NextToken] = true
		token = page.NextToken
	}
}

func getJSON(ctx context.Context, u, region string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Authorization", fmt.Sprintf(
		"%s Credential=%s/%s/%s/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=%s",
		sigV4Algorithm, clientAccessKey, now.Format("20060102"), region, strings.Repeat("0", 64)))
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return parseAPIError(resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// parseAPIError reads a restJson1 error the way botocore does: the code from
// x-amzn-ErrorType (up to a ':'), else the body's code/__type (after a '#').
func parseAPIError(status int, errType string, body []byte) *APIError {
	var b struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(body, &b) // a non-JSON body still gives status and header
	ae := &APIError{StatusCode: status, Message: b.Message}
	if ae.Message == "" {
		ae.Message = b.MessageU
	}
	switch code, _, _ := strings.Cut(errType, ":"); {
	case code != "":
		ae.Code = code
	case b.Code != "":
		ae.Code = b.Code
	case b.Type != "":
		_, after, found := strings.Cut(b.Type, "#")
		ae.Code = b.Type
		if found {
			ae.Code = after
		}
	default:
		ae.Code = http.StatusText(status)
	}
	return ae
}
