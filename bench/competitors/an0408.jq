# AN0408 (macOS firewall tampering) over `eslogger` JSON Lines, as close to firewarden's rule
# pack (internal/detect/rules) as jq allows: the competitor of bench/detect-vs-tools.sh.
#
#   jq -c -f bench/competitors/an0408.jq FILE     # one line per match: {time, rule, pid, path, args}
#
# What it does like firewarden: matches the resolved executable path or the signing ID, never
# argv[0]; reads pfctl's getopt clusters (-Fa, -vd, -a anchor -f file); takes -F/-T modifiers
# abbreviated; matches defaults/PlistBuddy/plutil on every spelling of the com.apple.alf domain
# and lowered (or raised) values; file events on /etc/pf.conf, /etc/pf.anchors/ and the alf plist.
# What it does not: no process table (parent, ancestry), no wrappers (sudo/sh -c/env … are not
# unwrapped: the wrapped tool's own exec is matched instead), no allow list, no folding of repeats,
# no user-domain distinction for com.apple.alf writes, no profile_remove event.

def lc: ascii_downcase;
def base: split("/") | last;

# Which firewall tool an exec target is, from its signing ID or its path, or null.
def tool:
  (.signing_id // "") as $sid
  | ((.executable.path // "") | base | lc) as $n
  | if $sid == "com.apple.socketfilterfw" or $n == "socketfilterfw" then "socketfilterfw"
    elif $sid == "com.apple.pfctl" or $n == "pfctl" then "pfctl"
    elif $sid == "com.apple.defaults" or $n == "defaults" then "defaults"
    elif $n == "plistbuddy" then "plistbuddy"
    elif $n == "plutil" then "plutil"
    elif $sid == "com.apple.xpc.launchctl" or $n == "launchctl" then "launchctl"
    elif $n == "kill" or $n == "killall" or $n == "pkill" then "kill"
    elif $n == "profiles" then "profiles"
    else null end;

# pfctl's options as {o, a}: getopt clusters, with the value of the options that take one
# (aDFfiKkopstTxX) from the rest of the word or the next word.
def pfopts:
  . as $a
  | def go($i):
      if $i >= ($a | length) then empty
      else $a[$i] as $w
      | if ($w | test("^-[^-]")) then
          def cl($j):
            if $j >= ($w | length) then go($i + 1)
            else $w[$j:$j+1] as $c
            | if ($c | test("[aDFfiKkopstTxX]")) then
                if $j + 1 < ($w | length) then {o: $c, a: $w[$j+1:]}, go($i + 1)
                else {o: $c, a: $a[$i + 1]}, go($i + 2) end
              else {o: $c, a: null}, cl($j + 1) end
            end;
          cl(1)
        else go($i + 1) end
      end;
    go(1);

# Whether $v is a prefix (at least one letter) of one of the words.
def abbrev($words): . as $v | ($v | length) > 0 and any($words[]; startswith($v));

def socketfilterfw_rule:
  [.[1:][] | lc] as $a
  | [range(0; $a | length) as $i | [$a[$i], ($a[$i + 1] // "")]] as $pairs
  | if any($pairs[]; .[0] == "--setglobalstate" and .[1] == "off") then "alf-global-off"
    elif any($pairs[]; .[0] == "--setblockall" and .[1] == "off") then "alf-block-all-off"
    elif any($pairs[]; .[0] == "--setstealthmode" and .[1] == "off") then "alf-stealth-off"
    elif any($pairs[]; .[0] == "--setloggingmode" and .[1] == "off") then "alf-logging-off"
    elif any($pairs[]; (.[0] == "--setallowsigned" or .[0] == "--setallowsignedapp") and .[1] == "on") then "alf-allow-signed-on"
    elif any($a[]; . == "--add" or . == "--unblockapp" or . == "--remove") then "alf-app-exception"
    elif any($a[]; . == "-k") then "alf-kill"
    else null end;

def pfctl_rule:
  [pfopts] as $o
  | ([$o[] | select(.o == "a") | .a] | first) as $anchor
  | ([$o[] | select(.o == "F") | .a // ""]) as $flush
  | ([$o[] | select(.o == "f") | .a // ""]) as $load
  | ([$o[] | select(.o == "T") | .a // ""]) as $tcmd
  | ($anchor != null and ($anchor == "com.apple" or (($anchor | startswith("com.apple/")) and ($anchor | test("^com\\.apple/[0-9*]"))))) as $apple
  | if any($o[]; .o == "d") then "pf-disable"
    elif $apple and (($load | length) > 0 or ($flush | length) > 0 or any($tcmd[]; abbrev(["delete", "flush", "kill", "replace", "expire"]))) then "pf-anchor-apple"
    elif $anchor != null and (($load | length) > 0 or ($flush | length) > 0) then "pf-anchor-change"
    elif any($flush[]; abbrev(["all", "rules", "nat", "Tables", "queue"])) then "pf-flush-main"
    elif any($flush[]; abbrev(["states", "Sources", "info", "osfp"])) or any($o[]; .o == "k" or .o == "K") then "pf-flush-states"
    elif any($load[]; . != "/etc/pf.conf" and . != "/private/etc/pf.conf") then "pf-load-other"
    elif any($o[]; .o == "X") then "pf-release-token"
    elif any($tcmd[]; abbrev(["delete", "flush", "kill", "replace", "expire"])) then "pf-table-change"
    else null end;

# defaults [-currentHost|-host h] write|delete|import DOMAIN [KEY [-type] VALUE], PlistBuddy -c
# "Set :key v" FILE, plutil -replace|-remove KEY … FILE, over com.apple.alf or
# com.apple.security.firewall.
def lowered: lc | IN("0", "false", "no");
def raised: lc | IN("1", "true", "yes");
def weakens($k; $v):
  ($k | lc) as $k
  | (($k | IN("globalstate", "stealthenabled", "loggingenabled")) and ($v | lowered))
    or (($k | IN("allowsignedenabled", "allowdownloadsignedenabled", "firewallunload")) and ($v | raised));
def weakens_profile($k; $v):
  ($k | lc) as $k
  | (($k | IN("enablefirewall", "enablestealthmode", "enablelogging")) and ($v | lowered))
    or (($k | IN("allowsigned", "allowsignedapp")) and ($v | raised));
def alf_domain: lc | test("(^|/)com\\.apple\\.alf(\\.plist)?$");
def fw_domain: lc | test("(^|/)com\\.apple\\.security\\.firewall(\\.plist)?$");
def value_after($a; $i):
  if ($a[$i] // "") | test("^-(int|integer|bool|boolean|string|float|real)$") then $a[$i + 1] else $a[$i] end;

def plist_rule($tool):
  . as $a
  | if $tool == "defaults" then
      ([range(1; $a | length) | select($a[.] | IN("write", "delete", "import", "read", "read-type", "rename", "domains", "find", "export"))] | first) as $vi
      | if $vi == null then null
        else $a[$vi] as $verb | ($a[$vi + 1] // "") as $dom | ($a[$vi + 2] // null) as $key
        | if ($dom | alf_domain) then
            if $verb == "delete" or $verb == "import" or $verb == "rename" then "plist-alf-delete"
            elif $verb == "write" and $key != null and ($a[$vi + 3] == null) then "plist-alf-delete"  # whole-domain write
            elif $verb == "write" and $key != null and weakens($key; value_after($a; $vi + 3) // "") then "plist-alf-weaken"
            else null end
          elif ($dom | fw_domain) and $verb == "write" and $key != null and weakens_profile($key; value_after($a; $vi + 3) // "") then "plist-firewall-profile-domain"
          else null end
        end
    elif $tool == "plistbuddy" then
      ($a[-1] // "") as $file
      | [range(1; $a | length - 1) as $i | select($a[$i] == "-c") | $a[$i + 1] // ""] as $cmds
      | if ($file | alf_domain) then
          if any($cmds[]; lc | test("^(delete|clear)")) then "plist-alf-delete"
          elif any($cmds[]; capture("^(?i:set|add)\\s+:(?<k>[A-Za-z]+)\\s+(?:(?:bool|integer|string|real)\\s+)?(?<v>\\S+)") as $m | weakens($m.k; $m.v)) then "plist-alf-weaken"
          else null end
        elif ($file | fw_domain) and any($cmds[]; capture("^(?i:set|add)\\s+:(?<k>[A-Za-z]+)\\s+(?:(?:bool|integer|string|real)\\s+)?(?<v>\\S+)") as $m | weakens_profile($m.k; $m.v)) then "plist-firewall-profile-domain"
        else null end
    else # plutil
      ($a[-1] // "") as $file
      | if ($file | alf_domain) then
          if any($a[]; . == "-remove") then "plist-alf-delete"
          elif [range(1; $a | length) as $i | select($a[$i] == "-replace" or $a[$i] == "-insert") | weakens($a[$i + 1] // ""; $a[$i + 3] // "")] | any then "plist-alf-weaken"
          else null end
        else null end
    end;

def launchctl_rule:
  [.[1:][] | lc] as $a
  | if any($a[]; IN("unload", "bootout", "disable", "remove", "stop", "kill"))
       and any($a[]; test("com\\.apple\\.(alf|pfctl)")) then "launchctl-firewall-job"
    else null end;

def kill_rule:
  (any(.[1:][]; IN("-HUP", "-1", "-SIGHUP")) or ((.[1:] | index(["-s", "HUP"])) != null)) as $reload
  | if any(.[1:][]; lc | test("socketfilterfw")) and ($reload | not) then "kill-socketfilterfw" else null end;

def profiles_rule:
  if any(.[1:][]; . == "remove" or . == "-R") and any(.[1:][]; lc | test("firewall|\\.alf")) then "profile-remove-firewall" else null end;

def exec_rule:
  (.target | tool) as $t
  | (.args // []) as $a
  | if $t == null then null
    elif $t == "socketfilterfw" then $a | socketfilterfw_rule
    elif $t == "pfctl" then $a | pfctl_rule
    elif $t == "launchctl" then $a | launchctl_rule
    elif $t == "kill" then $a | kill_rule
    elif $t == "profiles" then $a | profiles_rule
    else $a | plist_rule($t) end;

def file_rule($p; $writer):
  if $p == "/etc/pf.conf" or $p == "/private/etc/pf.conf" then "file-pf-conf"
  elif ($p | startswith("/etc/pf.anchors/")) or ($p | startswith("/private/etc/pf.anchors/")) then "file-pf-anchors"
  elif ($p | endswith("/com.apple.alf.plist")) and ($writer != "/usr/sbin/cfprefsd") and ($writer | startswith("/usr/libexec/ApplicationFirewall/") | not) then "file-alf-plist"
  else null end;

.event as $e
| if $e.exec then
    ($e.exec | exec_rule) as $r
    | select($r != null)
    | {time, rule: $r, pid: $e.exec.target.audit_token | (if type == "array" then .[5] else .pid end),
       path: $e.exec.target.executable.path, args: $e.exec.args}
  else
    ( ($e.write.target.path) // (if $e.close.modified then $e.close.target.path else null end)
      // ($e.rename | if . == null then null elif .destination_type == 0 then .destination.existing_file.path
                     else (.destination.new_path.dir.path + "/" + .destination.new_path.filename) end)
      // ($e.create | if . == null then null elif .destination_type == 0 then .destination.existing_file.path
                     else (.destination.new_path.dir.path + "/" + .destination.new_path.filename) end)
      // ($e.unlink.target.path) ) as $p
    | select($p != null)
    | file_rule($p; .process.executable.path // "") as $r
    | select($r != null)
    | {time, rule: $r, pid: .process.audit_token | (if type == "array" then .[5] else .pid end),
       path: $p, writer: .process.executable.path}
  end
