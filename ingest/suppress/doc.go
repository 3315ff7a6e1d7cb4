// Package suppress reads suppression exports of email providers into the
// canonical suppression log (package state/suppress).
//
//	sum, err := suppress.Import(ctx, suppress.ImportOptions{DB: db, Provider: suppress.SendGrid}, files, progress)
//
// # Shapes
//
// Each file is sniffed: a first significant byte '[' or '{' is JSON, else
// CSV (a plain list for provider "list"). JSON may be an array, a wrapper
// object ({"result":[...]}, {"items":[...],"paging":...},
// {"Suppressions":[...]}, {"SuppressedDestinationSummaries":[...]},
// {"results":[...]}), JSON Lines, or several of those one after another
// (pages saved in one file); elements are objects or bare address strings.
// CSV: UTF-8 with or without BOM, UTF-16 with BOM (Excel "Unicode text"),
// CRLF, LF or classic-Mac CR line ends, ',' ';' or tab delimiter (sniffed
// from the first line), RFC 4180 quoting read leniently; a quoted field may
// span at most 20 lines, else its first line is rejected ("unterminated
// quoted field") and reading goes on at the next. Field names are matched
// without case, spaces, '_', '-' and '.': "Email Address" = "email_address".
// A CSV without a header (first cell an address) is read by position.
//
// # Providers and lists
//
//	provider   list (--list, else detected)       type            scope
//	sendgrid   bounces                             hard_bounce     account
//	           (a 4.x status in bounces)           block
//	           blocks                              block           account
//	           spam_reports                        complaint       account
//	           invalid_emails                      hard_bounce     account
//	           global_unsubscribes                 unsubscribe     account
//	           group_unsubscribes                  unsubscribe     group:<group_id>
//	mailgun    bounces (code, error)               hard_bounce     domain:<d>
//	           complaints (count)                  complaint       domain:<d>
//	           unsubscribes (tags)                 unsubscribe     domain:<d>, /tag:<t> per tag unless "*"
//	ses        suppressed_destinations             BOUNCE → hard_bounce, COMPLAINT → complaint   region:<r>
//	postmark   suppressions                        HardBounce → hard_bounce, SpamComplaint → complaint,
//	                                               ManualSuppression: Origin Recipient → unsubscribe,
//	                                               else manual                                   stream:<s>
//	sparkpost  suppression_list                    source Spam Complaint/FBL → complaint,
//	                                               List Unsubscribe/Unsubscribe Link/Link Unsubscribe → unsubscribe,
//	                                               Bounce Rule → hard_bounce, Manually Added/Compliance → manual
//	                                                               type:transactional|non_transactional (one event per type)
//	csv        any, through Map (email=, type=, ts=, reason=, scope=)
//	list       one address per line (Postfix access map and Exim lsearch lines too), of Type
//
// SendGrid's list comes from the content when it is unambiguous (group_id →
// group, ip → spam reports, a bare array of addresses → one group), else the
// file name ("blocks.csv"), else a guess the summary names; a file with a
// status column and no name hint is classified per row (4.x = block). A
// Mailgun JSON page names its domain and list in its paging URLs, which
// are used when --scope and --list are not given. A value the mapping does
// not know (SES reason, Postmark reason, SparkPost source) becomes manual,
// never a dropped row: an entry on a provider's suppression list is a
// suppression. SendGrid blocks are kept as type block: not hard bounces,
// and not exported to an MTA unless asked.
//
// ImportOptions.Scope qualifies every event of a call (a bare name gets the
// provider's kind: "mg.example.com" → "domain:mg.example.com"); row scopes
// are appended after a '/'. Without one, Mailgun, SES and Postmark events
// are scoped "account" and the summary says which option would be right.
//
// # Rows
//
// Every data row either gives events or is rejected: written, with the file,
// row (CSV/text: line number; JSON: item number), line, reason and raw
// text, to the rejects file (<log>.rejects.csv by default, appended, one
// run column per import) and counted by reason. Rejected are: rows whose
// address is not one (model.NormalizeAddress: empty, "gmail.com",
// "#02232014", "To", "8/27/2015", two addresses run together, a bad
// domain...), repeated header rows, empty rows, unterminated quotes, JSON
// elements that are neither objects nor strings, generic CSV rows with an
// unknown type, legacy map lines whose action lets mail through (OK,
// DUNNO, PERMIT...). Blank and comment lines of a plain list are not rows
// (counted as Ignored). A timestamp that cannot be read leaves ts empty and
// the raw text in the reason; one without a zone is read in ImportOptions.TZ
// (UTC by default).
//
// For each file, Rows = Rejected + rows that gave events, and Events =
// Accepted + Duplicate. The log dedupes on (addr, type, scope, source, ts),
// so importing the same files again appends nothing, and a crash at any
// point is repaired by running the same import again.
package suppress
