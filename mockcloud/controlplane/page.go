package controlplane

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// defaultPageSize is the page size when the request names none. AWS documents
// 25 for ListCertificates; the mock uses it for every list.
const defaultPageSize = 25

// maxPageSize is the model's upper bound for maxResults and pageSize.
const maxPageSize = 250

// tokenPrefix versions the token format, so a token from another server or an
// older format is refused instead of misread.
const tokenPrefix = "mc1:"

// encodePageToken makes the opaque nextToken / marker: the sort key of the last
// item handed out. Keys, not offsets, so a record created or deleted between
// pages neither repeats nor skips the others.
func encodePageToken(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + key))
}

func decodePageToken(tok string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errBadPageToken, err)
	}
	key, ok := strings.CutPrefix(string(raw), tokenPrefix)
	if !ok {
		return "", errBadPageToken
	}
	return key, nil
}

// paginate returns one page of items, which are sorted by key, ascending or, with
// desc, descending; keys are unique. next is empty on the last page.
func paginate[T any](items []T, key func(T) string, desc bool, token string, limit int) (page []T, next string, err error) {
	start := 0
	if token != "" {
		last, err := decodePageToken(token)
		if err != nil {
			return nil, "", err
		}
		start = len(items)
		for i, it := range items {
			if k := key(it); (!desc && k > last) || (desc && k < last) {
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(items))
	page = items[start:end]
	if end < len(items) && len(page) > 0 {
		next = encodePageToken(key(page[len(page)-1]))
	}
	return page, next, nil
}

// pageArgs reads the limit and token query parameters of a list call.
func (c *call) pageArgs(limitName, tokenName string) (limit int, token string, err error) {
	limit = defaultPageSize
	if s := c.query.Get(limitName); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, "", apiErr(codeInvalidRequest, fmt.Sprintf("%s must be an integer from 1 to %d", limitName, maxPageSize))
		}
		limit = n
	}
	token = c.query.Get(tokenName)
	if token != "" {
		if _, err := decodePageToken(token); err != nil {
			return 0, "", apiErr(codeInvalidRequest, "invalid "+tokenName)
		}
	}
	return limit, token, nil
}

// boolArg reads an optional boolean query parameter.
func (c *call) boolArg(name string) (value, set bool, err error) {
	s := c.query.Get(name)
	if s == "" {
		return false, false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, false, apiErr(codeInvalidRequest, name+" must be true or false")
	}
	return v, true, nil
}

// epoch is a restJson1 timestamp: seconds since the epoch as a JSON number, with
// milliseconds as the fraction, which botocore turns into the CLI's ISO 8601.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func ts(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// timeKey orders by time as a string compares: the signed nanoseconds shifted
// into unsigned range and zero-padded.
func timeKey(t time.Time, id string) string {
	return fmt.Sprintf("%020d/%s", uint64(t.UnixNano())^(1<<63), id)
}

// stableID derives the UUID-shaped ids AWS gives things and groups (thingId,
// thingGroupId) from the ARN, so the same record always shows the same id.
func stableID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	s := hex.EncodeToString(sum[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}
