package sim

import "strings"

// enhanced returns the enhanced status code an MTA logs for a reply: the
// code the server gave after its reply code ("550-5.1.1 …", "421 4.7.0 …"),
// else class.0.0 from the reply code, as Postfix and PowerMTA both do.
func enhanced(text string) string {
	if len(text) < 3 {
		return "4.0.0"
	}
	rest := strings.TrimLeft(text[3:], " -")
	if i := strings.IndexByte(rest, ' '); i > 0 {
		rest = rest[:i]
	}
	if validCode(rest) && rest[0] == text[0] {
		return rest
	}
	return text[:1] + ".0.0"
}

func validCode(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || (s[0] != '2' && s[0] != '4' && s[0] != '5') {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// statusText is PowerMTA's dsnStatus: the code and RFC 3463's words for it
// (the manual's samples: "2.0.0 (success)", "5.7.1 (delivery not
// authorized)", "4.4.1 (no answer from host)"). Codes RFC 3463 does not
// list get the words of their subject (X.7.28 → X.7.0).
func statusText(code string) string {
	if code[0] == '2' {
		return code + " (success)"
	}
	detail := code[2:]
	if d, ok := rfc3463[detail]; ok {
		return code + " (" + d + ")"
	}
	if i := strings.IndexByte(detail, '.'); i > 0 {
		if d, ok := rfc3463[detail[:i]+".0"]; ok {
			return code + " (" + d + ")"
		}
	}
	return code + " (undefined status)"
}

var rfc3463 = map[string]string{
	"0.0": "undefined status",
	"1.0": "other address status",
	"1.1": "bad destination mailbox address",
	"1.2": "bad destination system: no such domain",
	"2.0": "other or undefined mailbox status",
	"2.1": "mailbox disabled, not accepting messages",
	"2.2": "mailbox full",
	"3.0": "other or undefined mail system status",
	"3.2": "system not accepting network messages",
	"4.0": "other or undefined network or routing status",
	"4.1": "no answer from host",
	"4.2": "bad connection",
	"4.7": "delivery time expired",
	"5.0": "other or undefined protocol status",
	"7.0": "other or undefined security status",
	"7.1": "delivery not authorized",
	"7.2": "mailing list expansion prohibited",
}
