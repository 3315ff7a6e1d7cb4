// Package baseline reads what the source-state audit imports (wave2 §1.1,
// §4.4): ESP statistics by mailbox provider (SendGrid mailbox_providers
// stats, Mailgun analytics metrics, SES VDM BatchGetMetricData, SparkPost
// deliverability by mailbox provider, Postmark outbound stats, a plain CSV)
// and the reputation baseline (Gmail Postmaster Tools v1 and v2, Microsoft
// SNDS CSV, Talos verdicts entered by hand). It parses and maps; the rows
// are stored by state/baseline.
package baseline

import (
	"fmt"
	"strings"
	"unicode"

	"cutover/model"
)

// espNames maps an ESP's mailbox-provider name, folded (lower case, letters
// and digits only), to cutover's provider. The ESPs name providers in their
// own words: SendGrid "Gmail", "Microsoft Outlook Live", "Yahoo"; Mailgun
// "gmail", "microsoft", "yahoo"; SparkPost "Gmail", "Hotmail / Outlook",
// "Yahoo", "Apple iCloud"; SES "Gmail", "Outlook", "Yahoo", "iCloud". Names
// not here are matched by the words below, then as a domain, else "other".
var espNames = map[string]string{
	"gmail": "google", "google": "google", "googlemail": "google", "gsuite": "google", "googleworkspace": "google",
	"googleapps": "google", "gmailgoogleapps": "google",
	"microsoft": "microsoft", "outlook": "microsoft", "hotmail": "microsoft", "live": "microsoft", "msn": "microsoft",
	"microsoftoutlooklive": "microsoft", "office365": "microsoft", "microsoft365": "microsoft", "outlookcom": "microsoft",
	"hotmailoutlook": "microsoft", "windowslive": "microsoft", "microsoftoffice365": "microsoft", "outlookhotmail": "microsoft",
	"yahoo": "yahoo", "aol": "yahoo", "verizon": "yahoo", "yahooaol": "yahoo", "verizonmedia": "yahoo", "yahooinc": "yahoo",
	"apple": "apple", "icloud": "apple", "appleicloud": "apple", "me": "apple", "mac": "apple", "icloudmail": "apple",
	"comcast": "comcast", "xfinity": "comcast",
	"att": "att", "sbcglobal": "att", "bellsouth": "att",
	"gmx": "gmx", "webde": "gmx", "ionos": "gmx", "1und1": "gmx", "unitedinternet": "gmx",
	"orange": "orange", "wanadoo": "orange",
	"free": "free", "sfr": "sfr", "laposte": "laposte",
	"tonline": "t-online", "telekom": "t-online",
	"libero": "libero", "italiaonline": "libero",
	"mailru": "mailru", "yandex": "yandex",
	"qq": "tencent", "tencent": "tencent", "foxmail": "tencent",
	"netease": "netease", "163": "netease", "126": "netease",
	"naver": "naver",
}

// espWords are substrings that decide when the whole name is not in the
// table ("Gmail (Google Workspace)", "Microsoft Outlook Live Hotmail").
var espWords = []struct{ word, isp string }{
	{"gmail", "google"}, {"google", "google"},
	{"outlook", "microsoft"}, {"hotmail", "microsoft"}, {"microsoft", "microsoft"}, {"office365", "microsoft"},
	{"yahoo", "yahoo"}, {"aol", "yahoo"},
	{"icloud", "apple"}, {"apple", "apple"},
	{"comcast", "comcast"},
}

func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Mapper maps ESP provider names to cutover providers: the operator's --map
// first, then the table, then words, then the name as a domain.
type Mapper struct {
	over    map[string]string
	isps    *model.ISPTable
	unknown map[string]int
}

// NewMapper parses --map "Gmail=google,Hotmail=microsoft" (names folded, so
// "GMAIL" matches too).
func NewMapper(spec string) (*Mapper, error) {
	m := &Mapper{over: map[string]string{}, isps: model.DefaultISPTable(), unknown: map[string]int{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = fold(k), strings.ToLower(strings.TrimSpace(v))
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--map %q: want Name=provider,…", part)
		}
		m.over[k] = v
	}
	return m, nil
}

// ISP maps one name; an unknown name gives "other" and is remembered for
// Unknown.
func (m *Mapper) ISP(name string) string {
	f := fold(name)
	if v, ok := m.over[f]; ok {
		return v
	}
	if v, ok := espNames[f]; ok {
		return v
	}
	for _, w := range espWords {
		if strings.Contains(f, w.word) {
			return w.isp
		}
	}
	if d := strings.ToLower(strings.TrimSpace(name)); strings.Contains(d, ".") {
		if isp, ok := m.isps.ByDomain(d); ok {
			return isp
		}
	}
	m.unknown[name]++
	return model.ISPOther
}

// Unknown lists the names that went to "other", with their row counts.
func (m *Mapper) Unknown() map[string]int { return m.unknown }
