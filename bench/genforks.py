#!/usr/bin/env python3
# Generates eslogger fork events with long image paths, to measure detect's process-table cap.
# usage: bench/genforks.py N PATHLEN OUT.jsonl.gz   (issue 11: 20000 100000 gave 2 GB of paths)
# N eslogger fork events by pid 1, each child's image path PLEN bytes
import json, gzip, sys
def tok(pid): return {"auid":501,"asid":100019,"egid":20,"pid":pid,"pidversion":1,"rgid":20,"euid":501,"ruid":501}
def proc(pid, ppid, path):
    return {"is_platform_binary":True,"team_id":None,"signing_id":"com.example.x","executable":{"path":path,"path_truncated":False},
            "audit_token":tok(pid),"parent_audit_token":tok(ppid),"responsible_audit_token":tok(1),"ppid":ppid,"original_ppid":ppid,"tty":None}
n, plen = int(sys.argv[1]), int(sys.argv[2])
with gzip.open(sys.argv[3], "wt", compresslevel=9) as f:
    for i in range(n):
        p = "/" + ("%08d" % i) + "x" * (plen - 9)
        f.write(json.dumps({"schema_version":1,"version":9,"time":"2025-08-07T13:21:35.880814738Z","event_type":11,"global_seq_num":i,
            "process":proc(1,0,"/sbin/launchd"),"event":{"fork":{"child":proc(100000+i,1,p)}}}, separators=(",",":")) + "\n")
