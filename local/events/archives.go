package events

import (
	"net/http"
	"strings"

	"github.com/imagepipe/imagepipe/local/bus"
)

func init() {
	registry["ListArchives"] = (*Handler).listArchives
	registry["DescribeArchive"] = (*Handler).describeArchive
}

type listArchivesInput struct {
	NamePrefix     *string `json:"NamePrefix"`
	EventSourceArn *string `json:"EventSourceArn"`
	State          *string `json:"State"`
	Limit          *int    `json:"Limit"`
	NextToken      string  `json:"NextToken"`
}

// archiveOut is EventBridge's Archive and, with the fields marked, the
// output of DescribeArchive.
type archiveOut struct {
	ArchiveArn     string    `json:"ArchiveArn,omitempty"` // DescribeArchive
	ArchiveName    string    `json:"ArchiveName"`
	EventSourceArn string    `json:"EventSourceArn"`
	Description    string    `json:"Description,omitempty"`  // DescribeArchive
	EventPattern   string    `json:"EventPattern,omitempty"` // DescribeArchive
	State          string    `json:"State"`
	RetentionDays  int64     `json:"RetentionDays"`
	SizeBytes      int64     `json:"SizeBytes"`
	EventCount     int64     `json:"EventCount"`
	CreationTime   *epochSec `json:"CreationTime,omitempty"`
}

type listArchivesOutput struct {
	Archives  []archiveOut `json:"Archives"`
	NextToken string       `json:"NextToken,omitempty"`
}

var archiveStates = []string{"ENABLED", "DISABLED", "CREATING", "UPDATING", "CREATE_FAILED", "UPDATE_FAILED"}

func (h *Handler) listArchives(r *http.Request, body []byte) (any, error) {
	var in listArchivesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if countSet(in.NamePrefix, in.EventSourceArn, in.State) > 1 {
		return nil, validation("At most one filter is allowed for ListArchives. Use either : State, EventSourceArn, or NamePrefix.")
	}
	if in.State != nil && !oneOf(*in.State, archiveStates) {
		return nil, validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [%s]", *in.State, strings.Join(archiveStates, ", "))
	}
	var out []archiveOut
	for _, a := range h.Router.Archives() {
		switch {
		case in.NamePrefix != nil && !strings.HasPrefix(a.Name, *in.NamePrefix),
			in.EventSourceArn != nil && *in.EventSourceArn != h.busARN(a.Bus),
			in.State != nil && *in.State != "ENABLED":
			continue
		}
		o, err := h.archive(r, a)
		if err != nil {
			return nil, err
		}
		o.ArchiveArn, o.Description, o.EventPattern = "", "", ""
		out = append(out, o)
	}
	start, end, next, err := page(len(out), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	return listArchivesOutput{Archives: append([]archiveOut{}, out[start:end]...), NextToken: next}, nil
}

type describeArchiveInput struct {
	ArchiveName string `json:"ArchiveName"`
}

func (h *Handler) describeArchive(r *http.Request, body []byte) (any, error) {
	var in describeArchiveInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ArchiveName == "" {
		return nil, validation("1 validation error detected: Value null at 'archiveName' failed to satisfy constraint: Member must not be null")
	}
	a, ok := h.Router.Archive(in.ArchiveName)
	if !ok {
		return nil, notFound("Archive %s does not exist.", in.ArchiveName)
	}
	return h.archive(r, a)
}

func (h *Handler) archive(r *http.Request, a *bus.Archive) (archiveOut, error) {
	count, size, err := h.Router.ArchiveStats(r.Context(), a.Name)
	if err != nil {
		return archiveOut{}, err
	}
	return archiveOut{
		ArchiveArn:     h.archiveARN(a.Name),
		ArchiveName:    a.Name,
		EventSourceArn: h.busARN(a.Bus),
		EventPattern:   a.Pattern,
		State:          "ENABLED",
		RetentionDays:  int64(a.Retention.Hours() / 24),
		SizeBytes:      size,
		EventCount:     count,
		CreationTime:   stamp(a.CreatedAt),
	}, nil
}

func countSet(ps ...*string) int {
	n := 0
	for _, p := range ps {
		if p != nil {
			n++
		}
	}
	return n
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
