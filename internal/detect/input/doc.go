// Package input reads macOS process telemetry and turns each record into an event.Event:
// eslogger JSON lines, osquery es_process_events results, unified log ndjson (log show|stream
// --style ndjson), Santa's santa.log and Elastic Defend (ECS) documents, plain or
// gzip-compressed, one format or a mix (Format Auto decides record by record).
//
// # Layout
//
// A record is a line (Santa) or a JSON document, which may be one a line (NDJSON, the fast
// path), pretty-printed over several lines, several on a line ({…}{…} or {…} {…}), or the
// elements of JSON arrays ([{…},{…}], on one line or many; an array is read element by
// element, never held whole, so a gigabyte export costs no more memory than one element). A
// line that starts with '[' followed by '{', '[', ']' or nothing opens an array; any other
// ("[2022-05-12T11:38:03.923Z] I santad: …") is a Santa line. An event's Line is the line its
// document starts on. A document that is not one line of its own is kept up to MaxDocument
// bytes; a longer one is scanned to its end without being kept and reported. A document that
// cannot be JSON (a line ending inside a string; still open at the end of the input; or still
// open when a line starts with '{' or '[' in its first column, which pretty-printers never
// write for a nested value, so that a truncated NDJSON line does not swallow the lines after
// it) is counted in Stats.Malformed and, when it spread over several lines, reported with its
// lines to Options.Skip.
// Facts about the formats are in the detection reference (detect.md §1a–1e, §6); samples of
// each are in testdata, with their sources.
//
// A Reader keeps a table of live processes built from the stream itself (exec sets a pid's
// image and command line, fork copies them, exit drops them), keyed by host and pid and
// bounded by Options.MaxProcs, from which it fills the parent's image, the parent's command
// line (ParentCommandLine) and the ancestry that most sources leave out. Command lines are kept
// raw in a ring of MaxCommandBytes; the parent's is given only when the table's image for the
// parent pid is the parent's image.
//
// Most lines are of no interest to a detector, so Options.Interesting looks at each raw line
// first: a line it turns down only updates the process table, through a hand-written JSON
// scanner that does not allocate, and Next moves on (Stats.Skipped). The other lines are
// decoded in full, by the same scanner.
//
// Conventions for every format: a pid or ppid the record does not give is 0; a uid, euid or
// audit uid it does not give is event.Unknown; a string it does not give is "". Event.Source
// is the Format's name; Time is the record's own time.
//
// # eslogger
//
// A line whose "event" object has exactly one key, an object naming the event (eslogger(1):
// "NOT API", so unknown keys, any key order and null for objects are taken in stride):
//
//   - exec: Exec. process is the image that called exec, with the same pid, so the subject is
//     event.exec.target: PID and PIDVersion, UID, EUID and AUID (ruid, euid, auid) from its
//     audit_token, an object (message version 9) or [auid, euid, egid, ruid, rgid, pid, asid,
//     pidversion] (version 10); Path executable.path; SigningID; TeamID (null is ""); Platform
//     is_platform_binary; TTY tty.path; Argv event.exec.args (ArgvExact), CommandLine Argv
//     joined by JoinCommandLine; CurrentDirectory event.exec.cwd.path; PPID ppid (or
//     parent_audit_token's pid), OriginalPPID.
//     ParentPath and Ancestry come from the table; when it does not know the parent and
//     process has the target's pid (a plain fork and exec), ParentPath is
//     process.executable.path. ResponsiblePID is responsible_audit_token's pid, its path from
//     the table.
//   - fork: Fork, the subject event.fork.child; the parent is process.
//   - exit: Exit, the subject process.
//   - create, write, rename, unlink, and close with modified true: FileModify, the subject
//     process. FilePath is the file changed, whichever of target.path,
//     destination.existing_file.path, destination.new_path.dir.path + filename or
//     destination.path the line has (these names follow es_message_t; eslogger's are not
//     verified); FileFrom a rename's source.path.
//   - profile_remove: ProfileRemove, the subject event.profile_remove.instigator, else
//     process. The profile has no field of its own: it is in Raw.
//
// Time is "time" (RFC 3339, nanoseconds), Seq global_seq_num (else seq_num), Host
// Options.Host. Other events (mmap, sudo, …) are recognised and ignored.
//
// # osquery
//
// A results log line (event format "columns", snapshot "snapshot", batched
// "diffResults".added) whose rows hold es_process_events columns: path, pid and cmdline or
// event_type. Host is hostIdentifier. event_type exec is Exec: PID pid, Path path, PPID parent,
// OriginalPPID original_parent, CurrentDirectory cwd, UID uid, User username, SigningID
// signing_id, TeamID team_id, Platform platform_binary, PIDVersion pidversion and ResponsiblePID responsible_pid where a
// build has them, Seq global_seq_num, Time time (else unixTime); CommandLine is cmdline without
// its trailing space and Argv it split the way osquery quoted it (ArgvExact false). The euid
// column is not read: osquery's subscriber fills it with the egid. fork is Fork with the
// subject child_pid and the row's process as parent; exit is Exit. Other rows, and rows of an
// action "removed", are ignored.
//
// # Unified log
//
// A log show|stream --style ndjson record: Log with Path processImagePath, PID processID, UID
// userID, CommandLine eventMessage, Time timestamp ("2020-12-10 17:00:10.150141+0100"). A
// record whose eventMessage is an eslogger message (eslogger --oslog) is read as eslogger.
// The closing {"count":N,"finished":1} is ignored.
//
// # Santa
//
// A santa.log line, "[2022-05-12T11:38:03.923Z] I santad: action=…|key=value|…": action EXEC is Exec with PID pid,
// PIDVersion pidversion, PPID ppid, UID uid, User user, Path path, CommandLine args and Argv
// args split on spaces (Santa joins argv with single spaces, so ArgvExact is false), Host
// machineid (else Options.Host); "<pipe>", `\n` and `\r` are unescaped. FORK and EXIT keep the
// table; other actions are ignored.
//
// # ECS
//
// An Elastic Defend / Endgame document, bare or as an Elasticsearch hit's _source. event.action
// exec (or event.type start) is Exec, fork Fork, end Exit; a file document (event.category
// file) of action creation, modification, overwrite, rename or deletion is FileModify with
// FilePath file.path and FileFrom file.Ext.original.path. PID process.pid, Path
// process.executable, Argv process.args (ArgvExact; else process.command_line split),
// CommandLine process.command_line, CurrentDirectory process.working_directory, PPID and
// ParentPath process.parent.pid and .executable (else the table), ParentCommandLine
// process.parent.command_line, else process.parent.args joined, else the table, Ancestry the images of process.Ext.ancestry's entity ids as earlier
// documents gave them, ResponsiblePID and ResponsiblePath process.Ext.effective_parent,
// SigningID and TeamID process.code_signature, EUID user.id, UID user.Ext.real.id, User
// user.name, Host host.name (else host.hostname), Time @timestamp, Seq event.sequence.
package input
