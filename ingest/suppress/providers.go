package suppress

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"cutover/model"
)

// Provider names an export format.
type Provider string

const (
	SendGrid  Provider = "sendgrid"
	Mailgun   Provider = "mailgun"
	SES       Provider = "ses"
	Postmark  Provider = "postmark"
	SparkPost Provider = "sparkpost"
	// GenericCSV is any CSV, read through a column mapping (ImportOptions.Map).
	GenericCSV Provider = "csv"
	// PlainList is one address per line (a legacy Postfix access map or Exim
	// list works too: the first field is the address), of ImportOptions.Type.
	PlainList Provider = "list"
)

// Providers lists the accepted provider names.
var Providers = []Provider{SendGrid, Mailgun, SES, Postmark, SparkPost, GenericCSV, PlainList}

// ParseProvider checks a provider name.
func ParseProvider(s string) (Provider, error) {
	p := Provider(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Providers, p) {
		return p, nil
	}
	return "", fmt.Errorf("provider %q: want sendgrid, mailgun, ses, postmark, sparkpost, csv or list", s)
}

// Lists per provider, as --list takes them. The list of a file is taken
// from --list, else from its content where that is unambiguous, else from
// its file name, else guessed (and the summary says so).
var Lists = map[Provider][]string{
	SendGrid:  {"bounces", "blocks", "spam_reports", "invalid_emails", "global_unsubscribes", "group_unsubscribes"},
	Mailgun:   {"bounces", "complaints", "unsubscribes"},
	SES:       {"suppressed_destinations"},
	Postmark:  {"suppressions"},
	SparkPost: {"suppression_list"},
}

var listAliases = map[string]string{
	"unsubscribes": "global_unsubscribes", "unsubscribe": "global_unsubscribes", "global": "global_unsubscribes",
	"spam": "spam_reports", "spamreports": "spam_reports", "complaints": "spam_reports",
	"invalid": "invalid_emails", "invalidemails": "invalid_emails",
	"group": "group_unsubscribes", "groups": "group_unsubscribes", "asm": "group_unsubscribes",
	"bounce": "bounces", "block": "blocks", "complaint": "complaints", "unsub": "unsubscribes",
}

// canonList resolves a --list value for a provider.
func canonList(p Provider, list string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(list))
	if l == "" {
		return "", nil
	}
	lists := Lists[p]
	if lists == nil {
		return l, nil // csv and list: the list only names the source
	}
	if slices.Contains(lists, l) {
		return l, nil
	}
	if a, ok := listAliases[strings.ReplaceAll(l, "-", "_")]; ok && slices.Contains(lists, a) {
		return a, nil
	}
	if p == Mailgun && l == "spam_reports" {
		return "complaints", nil
	}
	if p == Mailgun && l == "global_unsubscribes" {
		return "unsubscribes", nil
	}
	if len(lists) == 1 {
		return lists[0], nil
	}
	return "", fmt.Errorf("list %q is not a %s list (want %s)", list, p, strings.Join(lists, ", "))
}

// normKey folds a field name: lower case, without spaces, '_', '-', '.'
// ("Email Address", "email_address" and "EmailAddress" are one key).
func normKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '_' || c == '-' || c == '.':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 32)
		default:
			b.WriteByte(c)
		}
	}
	return strings.Trim(b.String(), "\"'")
}

// row is one record of either kind, with field access by folded name.
type row struct {
	fields []string       // CSV record
	cols   map[string]int // folded header name → index; nil for a headerless CSV
	obj    map[string]any // JSON object with folded keys
	str    string         // JSON bare string
	isStr  bool
}

func (r *row) get(keys ...string) string {
	for _, k := range keys {
		if r.obj != nil {
			if v, ok := r.obj[k]; ok && v != nil {
				return scalar(v)
			}
			continue
		}
		if r.cols != nil {
			if i, ok := r.cols[k]; ok && i < len(r.fields) {
				return strings.TrimSpace(r.fields[i])
			}
		}
	}
	return ""
}

func (r *row) has(k string) bool {
	if r.obj != nil {
		_, ok := r.obj[k]
		return ok
	}
	_, ok := r.cols[k]
	return ok
}

// col returns field i of a CSV record (headerless files).
func (r *row) col(i int) string {
	if i < len(r.fields) {
		return strings.TrimSpace(r.fields[i])
	}
	return ""
}

// list returns a list field: a JSON array, or a CSV cell like `*`,
// `a,b`, `["a","b"]` or `a|b`.
func (r *row) list(k string) []string {
	if r.obj != nil {
		switch v := r.obj[k].(type) {
		case []any:
			var out []string
			for _, x := range v {
				if s := strings.TrimSpace(scalar(x)); s != "" {
					out = append(out, s)
				}
			}
			return out
		case nil:
			return nil
		default:
			return splitList(scalar(v))
		}
	}
	return splitList(r.get(k))
}

func splitList(s string) []string {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' || r == ';' }) {
		if p = strings.Trim(strings.TrimSpace(p), `"'`); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case nil:
		return ""
	case []any, map[string]any:
		return ""
	default:
		return fmt.Sprint(x) // json.Number keeps its text; bools print true/false
	}
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "y", "t":
		return true
	}
	return false
}

// cand is an event read from a row before its address is normalised.
type cand struct {
	typ    model.SuppressionType
	addr   string
	ts     string
	scope  string
	reason string
	list   string // source list (provider:list)
}

// fileMapper turns the rows of one file into candidate events.
type fileMapper struct {
	p         Provider
	list      string // detected or given
	listFrom  string // "--list", "content", "file name", "guess", "status per row"
	scope     string // base scope
	typ       model.SuppressionType
	mapCols   map[string]string // generic CSV: role → folded header or "#n"
	notes     *notes
	emailKeys []string
}

// notes counts things worth a line in the summary.
type notes struct {
	m     map[string]int
	order []string
}

func (n *notes) add(s string) {
	if n.m == nil {
		n.m = map[string]int{}
	}
	if n.m[s] == 0 {
		n.order = append(n.order, s)
	}
	n.m[s]++
}

func (n *notes) lines() []string {
	var out []string
	for _, s := range n.order {
		if c := n.m[s]; c > 1 {
			out = append(out, fmt.Sprintf("%s (%d rows)", s, c))
		} else {
			out = append(out, s)
		}
	}
	return out
}

var emailKeys = []string{"email", "emailaddress", "address", "recipient", "e-mail", "mail", "to"}

// hintFromName guesses the list from a file name ("sg_blocks_2026.csv").
func hintFromName(p Provider, path string) string {
	n := strings.ToLower(filepath.Base(path))
	type h struct{ sub, list string }
	var hs []h
	switch p {
	case SendGrid:
		hs = []h{{"block", "blocks"}, {"bounce", "bounces"}, {"spam", "spam_reports"}, {"invalid", "invalid_emails"},
			{"group", "group_unsubscribes"}, {"asm", "group_unsubscribes"}, {"unsub", "global_unsubscribes"}}
	case Mailgun:
		hs = []h{{"bounce", "bounces"}, {"complaint", "complaints"}, {"spam", "complaints"}, {"unsub", "unsubscribes"}}
	}
	for _, x := range hs {
		if strings.Contains(n, x.sub) {
			return x.list
		}
	}
	return ""
}

// scopeWithPrefix turns "--scope mg.example.com" into "domain:mg.example.com"
// for a provider whose scope has a natural kind.
func scopeWithPrefix(p Provider, s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, ":") {
		return s
	}
	switch p {
	case Mailgun:
		return "domain:" + s
	case SES:
		return "region:" + s
	case Postmark:
		return "stream:" + s
	case SparkPost:
		return "subaccount:" + s
	}
	return s
}

func joinScope(base, sub string) string {
	switch {
	case base == "" || base == "account":
		return sub
	case sub == "":
		return base
	}
	return base + "/" + sub
}

// detect settles the list of a file from its first row's field names.
func (m *fileMapper) detect(path string, first *row, fi fileInfo) {
	if m.list != "" {
		return
	}
	has := first.has
	name := hintFromName(m.p, path)
	set := func(l, from string) { m.list, m.listFrom = l, from }
	switch m.p {
	case SendGrid:
		switch {
		case first.isStr:
			set("group_unsubscribes", "content (array of addresses: the per-group endpoint)")
		case has("groupid") || has("groupname"):
			set("group_unsubscribes", "content (group_id)")
		case has("ip"):
			set("spam_reports", "content (ip)")
		case name != "":
			set(name, "file name")
		case has("status"):
			set("bounces_or_blocks", "status per row (4.x = block, else bounce): pass --list bounces or --list blocks to decide")
		case has("reason"):
			set("invalid_emails", "guess (email, created, reason)")
		default:
			set("global_unsubscribes", "guess (email, created only)")
		}
	case Mailgun:
		switch {
		case fi.mgList != "":
			set(fi.mgList, "content (paging URL)")
		case has("code") || has("error"):
			set("bounces", "content (code, error)")
		case has("tags"):
			set("unsubscribes", "content (tags)")
		case has("count"):
			set("complaints", "content (count)")
		case name != "":
			set(name, "file name")
		default:
			set("complaints", "guess (address, created_at only)")
		}
	default:
		if ls := Lists[m.p]; len(ls) > 0 {
			set(ls[0], "provider")
		} else {
			set("import", "default")
		}
	}
}

// rowCands maps one row. A non-empty reject reason rejects the whole row.
func (m *fileMapper) rowCands(r *row, out []cand) ([]cand, string) {
	base := m.scope
	switch m.p {
	case SendGrid:
		return m.sendgrid(r, out, base)
	case Mailgun:
		return m.mailgun(r, out, base)
	case SES:
		return m.ses(r, out, base)
	case Postmark:
		return m.postmark(r, out, base)
	case SparkPost:
		return m.sparkpost(r, out, base)
	case GenericCSV:
		return m.generic(r, out, base)
	}
	return out, "unknown provider"
}

func (m *fileMapper) addr(r *row) string {
	if r.isStr {
		return r.str
	}
	if r.cols == nil && r.obj == nil {
		return r.col(0) // headerless: the address comes first in every provider's layout
	}
	return r.get(m.emailKeys...)
}

func withStatus(status, reason string) string {
	switch {
	case status == "":
		return reason
	case reason == "":
		return status
	case strings.Contains(reason, status):
		return reason
	}
	return status + " " + reason
}

func (m *fileMapper) sendgrid(r *row, out []cand, base string) ([]cand, string) {
	c := cand{addr: m.addr(r), ts: r.get("created", "createdat"), scope: base, list: m.list}
	if r.cols == nil && r.obj == nil && !r.isStr {
		c.ts = r.col(1)
	}
	status := r.get("status")
	reason := r.get("reason")
	switch m.list {
	case "bounces", "bounces_or_blocks":
		c.typ, c.reason = model.SuppHardBounce, withStatus(status, reason)
		if strings.HasPrefix(status, "4") {
			// A temporary status is no proof the mailbox is gone (reference §1.7).
			c.typ = model.SuppBlock
			if m.list == "bounces" {
				m.notes.add("SendGrid bounces with a 4.x status recorded as block, not hard_bounce")
			}
		}
		if m.list == "bounces_or_blocks" {
			c.list = "bounces"
			if c.typ == model.SuppBlock {
				c.list = "blocks"
			}
		}
	case "blocks":
		c.typ, c.reason = model.SuppBlock, withStatus(status, reason)
	case "spam_reports":
		c.typ = model.SuppComplaint
		if ip := r.get("ip"); ip != "" {
			c.reason = "ip " + ip
		}
	case "invalid_emails":
		c.typ, c.reason = model.SuppHardBounce, reason
	case "global_unsubscribes":
		c.typ = model.SuppUnsubscribe
	case "group_unsubscribes":
		c.typ = model.SuppUnsubscribe
		gid := r.get("groupid")
		switch {
		case gid != "":
			c.scope = joinScope(base, "group:"+gid)
		case strings.Contains(base, "group:"):
		default:
			c.scope = joinScope(base, "group:unknown")
			m.notes.add("SendGrid group unsubscribes without a group id: scope group:unknown (pass --scope group:ID)")
		}
		if g := r.get("groupname"); g != "" {
			c.reason = "group " + g
		}
		if c.ts == "" {
			m.notes.add("SendGrid group list without times (the per-group endpoint has none): ts left empty")
		}
	}
	return append(out, c), ""
}

func (m *fileMapper) mailgun(r *row, out []cand, base string) ([]cand, string) {
	c := cand{addr: m.addr(r), ts: r.get("createdat", "created"), scope: base, list: m.list}
	switch m.list {
	case "bounces":
		c.typ = model.SuppHardBounce
		c.reason = strings.TrimSpace(r.get("code") + " " + r.get("error"))
	case "complaints":
		c.typ = model.SuppComplaint
		if n := r.get("count"); n != "" && n != "1" {
			c.reason = "count " + n
		}
	case "unsubscribes":
		c.typ = model.SuppUnsubscribe
		tags := r.list("tags")
		if len(tags) == 0 || slices.Contains(tags, "*") {
			return append(out, c), "" // "*" = every message of the domain
		}
		for _, t := range tags {
			ct := c
			ct.scope = joinScope(base, "tag:"+t)
			out = append(out, ct)
		}
		return out, ""
	}
	return append(out, c), ""
}

func (m *fileMapper) ses(r *row, out []cand, base string) ([]cand, string) {
	c := cand{addr: m.addr(r), scope: base, list: m.list}
	reason := r.get("reason")
	c.ts = r.get("lastupdatetime", "lastupdatedtimestamp", "createdat")
	if r.cols == nil && r.obj == nil {
		reason, c.ts = r.col(1), r.col(2) // "recipient@example.com,BOUNCE"
	}
	switch strings.ToUpper(reason) {
	case "BOUNCE":
		c.typ = model.SuppHardBounce
	case "COMPLAINT":
		c.typ = model.SuppComplaint
	default:
		// On the suppression list all the same: fail closed.
		c.typ, c.reason = model.SuppManual, "SES reason "+strconv.Quote(reason)
		m.notes.add(fmt.Sprintf("SES reason %q is neither BOUNCE nor COMPLAINT: recorded as manual", reason))
	}
	return append(out, c), ""
}

func (m *fileMapper) postmark(r *row, out []cand, base string) ([]cand, string) {
	c := cand{addr: m.addr(r), ts: r.get("createdat", "changedat"), scope: base, list: m.list}
	if s := r.get("messagestream", "stream"); s != "" && !strings.Contains(base, "stream:") {
		c.scope = joinScope(base, "stream:"+s)
	}
	reason, origin := r.get("suppressionreason"), r.get("origin")
	c.reason = "SuppressionReason=" + reason
	if origin != "" {
		c.reason += " Origin=" + origin
	}
	switch strings.ToLower(reason) {
	case "hardbounce":
		c.typ = model.SuppHardBounce
	case "spamcomplaint":
		c.typ = model.SuppComplaint
	case "manualsuppression":
		// Recipient-originated manual suppressions are unsubscribes
		// (link or List-Unsubscribe); Customer/Admin ones were added by hand.
		c.typ = model.SuppManual
		if strings.EqualFold(origin, "recipient") {
			c.typ = model.SuppUnsubscribe
		}
	default:
		c.typ = model.SuppManual
		m.notes.add(fmt.Sprintf("Postmark SuppressionReason %q unknown: recorded as manual", reason))
	}
	return append(out, c), ""
}

func (m *fileMapper) sparkpost(r *row, out []cand, base string) ([]cand, string) {
	c := cand{addr: m.addr(r), ts: r.get("created", "updated"), list: m.list}
	src := r.get("source")
	desc := r.get("description")
	c.reason = desc
	if src != "" {
		c.reason = strings.TrimSpace(desc + " [" + src + "]")
	}
	switch normKey(src) {
	case "spamcomplaint", "fbl":
		c.typ = model.SuppComplaint
	case "listunsubscribe", "unsubscribelink", "linkunsubscribe":
		c.typ = model.SuppUnsubscribe
	case "bouncerule":
		c.typ = model.SuppHardBounce
	case "manuallyadded", "compliance":
		c.typ = model.SuppManual
	default:
		c.typ = model.SuppManual
		m.notes.add(fmt.Sprintf("SparkPost source %q unknown: recorded as manual", src))
	}
	var types []string
	switch t := strings.ToLower(r.get("type")); t {
	case "transactional", "non_transactional":
		types = []string{t}
	case "":
		if truthy(r.get("transactional")) {
			types = append(types, "transactional")
		}
		if truthy(r.get("nontransactional")) {
			types = append(types, "non_transactional")
		}
	default:
		types = []string{t}
	}
	if len(types) == 0 {
		c.scope = joinScope(base, "")
		if c.scope == "" {
			c.scope = "account"
		}
		return append(out, c), ""
	}
	for _, t := range types {
		ct := c
		ct.scope = joinScope(base, "type:"+t)
		out = append(out, ct)
	}
	return out, ""
}

func (m *fileMapper) generic(r *row, out []cand, base string) ([]cand, string) {
	get := func(role string) string {
		ref, ok := m.mapCols[role]
		if !ok {
			return ""
		}
		if strings.HasPrefix(ref, "#") {
			n, _ := strconv.Atoi(ref[1:])
			return r.col(n - 1)
		}
		return r.get(ref)
	}
	c := cand{addr: get("email"), ts: get("ts"), reason: get("reason"), scope: base, list: m.list, typ: m.typ}
	if s := get("scope"); s != "" {
		c.scope = s
	}
	if _, ok := m.mapCols["type"]; ok {
		v := get("type")
		switch t, ok := model.ParseSuppressionType(v); {
		case ok:
			c.typ = t
		case v == "" && m.typ != "":
		case v == "":
			return out, "empty type and no --type"
		default:
			return out, fmt.Sprintf("unknown type value %q (map it, or fix the file)", v)
		}
	}
	return append(out, c), ""
}

// ParseMap reads a generic CSV column mapping: "email=Email,type=Reason,ts=Date"
// (roles email, type, ts, reason, scope; columns by header name or 1-based
// number: "email=1"). email is required.
func ParseMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		role, col, ok := strings.Cut(part, "=")
		role = strings.ToLower(strings.TrimSpace(role))
		col = strings.TrimSpace(col)
		if !ok || col == "" {
			return nil, fmt.Errorf("column map %q: want role=column", part)
		}
		switch role {
		case "addr", "address", "recipient":
			role = "email"
		case "time", "date", "created":
			role = "ts"
		}
		switch role {
		case "email", "type", "ts", "reason", "scope":
		default:
			return nil, fmt.Errorf("column map: unknown role %q (want email, type, ts, reason, scope)", role)
		}
		if _, dup := out[role]; dup {
			return nil, fmt.Errorf("column map: %s given twice", role)
		}
		out[role] = col
	}
	if out["email"] == "" {
		return nil, fmt.Errorf("column map %q: email=COLUMN is required", s)
	}
	return out, nil
}
