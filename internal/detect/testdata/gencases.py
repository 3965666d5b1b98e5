#!/usr/bin/env python3
"""Writes the detect test cases (testdata/cases/*/events.*) from the shared fixtures.

Every event here is SYNTHETIC: an eslogger, osquery, Santa or ECS record whose shape is copied
from a real fixture (../../../../shared/fixtures/detect, see its README for sources) with the
program, arguments, ids and times replaced. Run from this directory: python3 gencases.py FIXTURES
"""
import copy, json, os, sys

fx = sys.argv[1] if len(sys.argv) > 1 else "../../../../shared/fixtures/detect"
base = json.load(open(os.path.join(fx, "SYNTHETIC-eslogger-v9-exec-socketfilterfw-off.json")))
base.pop("_synthetic_note", None)
v10 = json.load(open(os.path.join(fx, "SYNTHETIC-eslogger-v10-exec-defaults-alf-off.json")))
v10.pop("_synthetic_note", None)
ecs = json.load(open(os.path.join(fx, "elastic-endpoint-7.10-macos-systemsetup-exec-with-parent.json")))

SIGN = {"socketfilterfw": "com.apple.socketfilterfw", "pfctl": "com.apple.pfctl", "launchctl": "com.apple.xpc.launchctl",
        "defaults": "com.apple.defaults", "PlistBuddy": "com.apple.PlistBuddy", "plutil": "com.apple.plutil",
        "killall": "com.apple.killall", "pkill": "com.apple.pkill", "sudo": "com.apple.sudo", "sh": "com.apple.sh",
        "system_profiler": "com.apple.system_profiler", "osascript": "com.apple.osascript", "env": "com.apple.env"}
PATH = {"socketfilterfw": "/usr/libexec/ApplicationFirewall/socketfilterfw", "pfctl": "/sbin/pfctl", "launchctl": "/bin/launchctl",
        "defaults": "/usr/bin/defaults", "PlistBuddy": "/usr/libexec/PlistBuddy", "plutil": "/usr/bin/plutil",
        "killall": "/usr/bin/killall", "pkill": "/usr/bin/pkill", "sudo": "/usr/bin/sudo", "sh": "/bin/sh",
        "system_profiler": "/usr/sbin/system_profiler", "osascript": "/usr/bin/osascript", "env": "/usr/bin/env"}

def tool(argv0):
    return os.path.basename(argv0)

def eslogger(i, argv, parent="/bin/zsh", pid=None, ppid=58916, v=9, image=None, signing=None, t=None):
    e = copy.deepcopy(base if v == 9 else v10)
    pid = pid or 97000 + i
    name = tool(argv[0])
    path = image or PATH.get(name, argv[0] if argv[0].startswith("/") else "/usr/bin/" + name)
    sid = signing if signing is not None else SIGN.get(name, "com.example." + name)
    tgt = e["event"]["exec"]["target"]
    tgt["executable"]["path"] = path
    tgt["signing_id"] = sid
    e["event"]["exec"]["args"] = argv
    e["event"]["exec"]["dyld_exec_path"] = path
    e["process"]["executable"]["path"] = parent
    for p in (e["process"], tgt):
        p["ppid"] = ppid
        p["original_ppid"] = ppid
        if isinstance(p["audit_token"], dict):
            p["audit_token"]["pid"] = pid
            p["parent_audit_token"]["pid"] = ppid
        else:
            p["audit_token"][5] = pid
            p["parent_audit_token"][5] = ppid
    e["time"] = t or "2025-08-07T13:%02d:%02d.000000000Z" % (21 + i // 60, i % 60)
    e["seq_num"] = e["global_seq_num"] = 100 + i
    return json.dumps(e, separators=(",", ":")).replace("/", "\\/")

def fileevent(i, kind, path, writer="/usr/bin/vi", pid=None):
    e = copy.deepcopy(base)
    e["event_type"] = {"write": 33, "close": 12, "rename": 25, "create": 13, "unlink": 32}[kind]
    e["process"]["executable"]["path"] = writer
    e["process"]["signing_id"] = "com.apple." + os.path.basename(writer)
    e["process"]["audit_token"]["pid"] = pid or 98000 + i
    f = {"path": path, "path_truncated": False, "stat": e["event"]["exec"]["cwd"]["stat"]}
    if kind == "write":
        body = {"target": f}
    elif kind == "close":
        body = {"modified": True, "target": f}
    elif kind == "rename":
        body = {"source": {"path": "/tmp/pf.tmp", "path_truncated": False},
                "destination_type": 0, "destination": {"existing_file": f}}
    elif kind == "create":
        body = {"destination_type": 1, "destination": {"new_path": {"dir": {"path": os.path.dirname(path), "path_truncated": False},
                "filename": os.path.basename(path), "mode": 420}}}
    else:
        body = {"target": f}
    e["event"] = {kind: body}
    e["time"] = "2025-08-07T14:%02d:%02d.000000000Z" % (i // 60, i % 60)
    return json.dumps(e, separators=(",", ":")).replace("/", "\\/")

def osquery(i, argv, user="root", uid=0):
    def q(a):
        if " " in a or '"' in a:
            return '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return a
    name = tool(argv[0])
    cols = {"path": PATH.get(name, argv[0]), "pid": str(97000 + i), "parent": "58916", "original_parent": "58916",
            "cmdline": "".join(q(a) + " " for a in argv), "cmdline_count": str(len(argv)), "uid": str(uid), "euid": "0",
            "gid": "0", "egid": "0", "username": user, "signing_id": SIGN.get(name, ""), "team_id": "", "platform_binary": "1",
            "event_type": "exec", "time": str(1754572895 + i), "cwd": "/Users/alice", "version": "6", "seq_num": str(i),
            "global_seq_num": str(i)}
    return json.dumps({"name": "pack_es_process_events", "hostIdentifier": "mac-017", "calendarTime": "Thu Aug  7 13:21:35 2025 UTC",
                       "unixTime": 1754572895 + i, "epoch": 0, "counter": i, "numerics": False,
                       "decorations": {"host_uuid": "4740D59F-699E-5B29-960B-979AAF9BBEEB"}, "columns": cols, "action": "added"})

def santa(i, argv, user="root", uid=0):
    name = tool(argv[0])
    return ("[2025-08-07T13:%02d:%02d.000Z] I santad: action=EXEC|decision=ALLOW|reason=BINARY|explain=critical system binary|"
            "sha256=43158bf397bf52001067319c591249307e2862daf8690828c15cdcc1ddf6166d|cert_sha256=d84db96af8c2e60ac4c851a21ec460f6f84e0235beb17d24a78712b9b021ed57|"
            "cert_cn=Software Signing|pid=%d|pidversion=%d|ppid=58916|uid=%d|user=%s|gid=0|group=wheel|mode=M|path=%s|args=%s"
            % (21 + i // 60, i % 60, 97000 + i, 1097732 + i, uid, user, PATH.get(name, argv[0]), " ".join(argv).replace("|", "<pipe>")))

def ecsline(i, argv, user="sisi", uid=501):
    d = copy.deepcopy(ecs)
    s = d["_source"]
    name = tool(argv[0])
    s["process"].update({"args": argv, "name": name, "pid": 97000 + i, "args_count": len(argv),
                         "command_line": " ".join(argv), "executable": PATH.get(name, argv[0])})
    s["@timestamp"] = "2025-08-07T13:%02d:%02d.000Z" % (21 + i // 60, i % 60)
    s["user"] = {"name": user, "id": uid, "Ext": {"real": {"name": user, "id": uid}}}
    return json.dumps(d)

# One command line per class of reference/detect.md §3.2, with evasions of §3.5.
positives = [
    ["/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off"],
    ["socketfilterfw", "--setglobalstate", "OFF"],
    ["socketfilterfw", "--setblockall", "off"],
    ["socketfilterfw", "--setstealthmode", "off"],
    ["socketfilterfw", "--setloggingmode", "off"],
    ["socketfilterfw", "--setallowsigned", "on"],
    ["socketfilterfw", "--setallowsignedapp", "on"],
    ["socketfilterfw", "--add", "/tmp/implant", "--unblockapp", "/tmp/implant"],
    ["socketfilterfw", "-k"],
    ["pfctl", "-d"],
    ["pfctl", "-vd"],
    ["pfctl", "-Fa"],
    ["pfctl", "-F", "r"],
    ["pfctl", "-f", "/tmp/open.conf"],
    ["pfctl", "-a", "com.apple", "-F", "all"],
    ["pfctl", "-t", "bans", "-T", "flush"],
    ["pfctl", "-X", "18446744073709551615"],
    ["defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "0"],
    ["defaults", "write", "/Library/Preferences/com.apple.alf.plist", "stealthenabled", "-bool", "NO"],
    ["defaults", "write", "/Library/Preferences/com.apple.alf", "allowsignedenabled", "-boolean", "YES"],
    ["defaults", "delete", "/Library/Preferences/com.apple.alf"],
    ["/usr/libexec/PlistBuddy", "-c", "Set :globalstate 0", "/Library/Preferences/com.apple.alf.plist"],
    ["plutil", "-replace", "firewallunload", "-integer", "1", "/Library/Preferences/com.apple.alf.plist"],
    ["launchctl", "unload", "/System/Library/LaunchDaemons/com.apple.alf.agent.plist"],
    ["launchctl", "bootout", "system/com.apple.pfctl"],
    ["killall", "-9", "socketfilterfw"],
]
negatives = [
    ["socketfilterfw", "--getglobalstate"],
    ["socketfilterfw", "--listapps"],
    ["socketfilterfw", "--setglobalstate", "on"],
    ["socketfilterfw", "--setstealthmode", "on"],
    ["pfctl", "-s", "rules"],
    ["pfctl", "-sr"],
    ["pfctl", "-s", "info"],
    ["pfctl", "-nf", "/tmp/test.conf"],
    ["pfctl", "-D", "ext_if=en0", "-s", "Anchors"],
    ["pfctl", "-f", "/etc/pf.conf"],
    ["pfctl", "-e"],
    ["defaults", "read", "/Library/Preferences/com.apple.alf", "globalstate"],
    ["defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "1"],
    ["defaults", "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "2"],
    ["defaults", "write", "/Library/Preferences/com.apple.alf", "stealthenabled", "-bool", "true"],
    ["defaults", "write", "/Library/Preferences/com.apple.SoftwareUpdate.plist", "CriticalUpdateInstall", "-bool", "NO"],
    ["pkill", "-HUP", "socketfilterfw"],
    ["system_profiler", "SPFirewallDataType"],
    ["launchctl", "list", "com.apple.alf.agent"],
    ["/usr/bin/grep", "-r", "pfctl -d", "/etc"],
]

def write(case, name, lines):
    d = os.path.join("cases", case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write("\n".join(lines) + "\n")

write("pos-eslogger", "events.jsonl", [eslogger(i, a, v=9 if i % 2 else 10) for i, a in enumerate(positives)])
write("neg-eslogger", "events.jsonl", [eslogger(i, a) for i, a in enumerate(negatives)])
write("pos-osquery", "events.jsonl", [osquery(i, a) for i, a in enumerate(positives)])
write("neg-osquery", "events.jsonl", [osquery(i, a) for i, a in enumerate(negatives)])
write("pos-santa", "santa.log", [santa(i, a) for i, a in enumerate(positives) if " " not in "".join(a)])
write("neg-santa", "santa.log", [santa(i, a) for i, a in enumerate(negatives) if " " not in "".join(a)])
write("pos-ecs", "events.ndjson", [ecsline(i, a) for i, a in enumerate(positives)])
write("neg-ecs", "events.ndjson", [ecsline(i, a) for i, a in enumerate(negatives)])
# A renamed copy of pfctl: argv[0] lies, the signing ID does not.
write("evasion-renamed", "events.jsonl", [eslogger(0, ["ls", "-d"], image="/tmp/.x/ls", signing="com.apple.pfctl")])
# Wrappers: sudo and sh -c around the real tool, each followed by the tool's own exec: one alert each.
write("wrapped", "events.jsonl", [
    eslogger(0, ["sudo", "pfctl", "-d"], pid=5000),
    eslogger(1, ["pfctl", "-d"], pid=5001, ppid=5000, parent="/usr/bin/sudo"),
    eslogger(5, ["sh", "-c", "socketfilterfw --setglobalstate off"], pid=5100),
    eslogger(6, ["socketfilterfw", "--setglobalstate", "off"], pid=5100, parent="/bin/sh"),
    eslogger(10, ["osascript", "-e", 'do shell script "pfctl -Fa" with administrator privileges'], pid=5200),
])
# Repeats fold into one alert with a count; a different parent is a different alert.
write("fold", "events.jsonl", [eslogger(i, ["pfctl", "-d"]) for i in range(5)] + [eslogger(7, ["pfctl", "-d"], parent="/bin/bash")])
# An MDM agent two levels up is allowed by the allow file; the same command from a shell is not.
write("allow-mdm", "events.jsonl", [
    eslogger(0, ["/bin/sh", "/tmp/policy.sh"], pid=6000, ppid=6999, image="/bin/sh", parent="/usr/local/jamf/bin/jamf"),
    eslogger(1, ["pfctl", "-d"], pid=6001, ppid=6000, parent="/bin/sh"),
    eslogger(2, ["pfctl", "-d"], pid=6002),
])
with open("cases/allow-mdm/allow.yaml", "w") as f:
    f.write("allow:\n  - name: Jamf policies\n    ancestry: /usr/local/jamf/bin/jamf\n    reason: pf is managed by Jamf policy\n")
def profileremove(i, identifier, name):
    e = copy.deepcopy(base)
    e["event_type"] = 127
    inst = copy.deepcopy(e["process"])
    inst["executable"]["path"] = "/usr/bin/profiles"
    inst["signing_id"] = "com.apple.profiles"
    e["event"] = {"profile_remove": {"instigator": inst, "profile": {"identifier": identifier, "uuid": "8C4D7E4A-2B1F-4B8E-9D33-1F6C0E2A5B7%d" % i,
        "install_source": 0, "organization": "Example Corp", "display_name": name, "scope": "System"}}}
    e["time"] = "2025-08-07T15:%02d:%02d.000000000Z" % (i // 60, i % 60)
    return json.dumps(e, separators=(",", ":")).replace("/", "\\/")

# ES profile_remove (macOS 14+): the field names follow es_event_profile_remove_t / es_profile_t
# and are not verified against eslogger output (reference/detect.md §7).
write("profiles", "events.jsonl", [
    profileremove(0, "com.example.security.firewall", "Firewall (CIS)"),
    profileremove(1, "com.example.wifi", "Office Wi-Fi"),
])
write("files", "events.jsonl", [
    fileevent(0, "close", "/etc/pf.conf"),
    fileevent(1, "rename", "/private/etc/pf.conf", writer="/usr/bin/python3"),
    fileevent(2, "create", "/etc/pf.anchors/evil"),
    fileevent(3, "write", "/Library/Preferences/com.apple.alf.plist", writer="/usr/bin/python3"),
    fileevent(4, "write", "/Library/Preferences/com.apple.alf.plist", writer="/usr/sbin/cfprefsd"),
    fileevent(5, "write", "/etc/hosts"),
])
