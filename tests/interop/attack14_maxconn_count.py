#!/usr/bin/python3
"""attack14: 6 PUSH clients, --max-connections 3: the count stays 3 but
every refused client completes its handshake and delivers what it sent
(each reconnect, 100 ms, flushes its queue before the lazy shutdown).
Usage: attack14_maxconn_count.py ZRELAY N"""
import subprocess,time,json,zmq,sys
Z=sys.argv[1]
p=subprocess.Popen([Z,"streamer","--max-connections","3","--control","tcp://127.0.0.1:46200","tcp://127.0.0.1:46201","tcp://127.0.0.1:46202"],stdout=subprocess.PIPE,stderr=open("mc.err","w"))
time.sleep(1.5)
ctx=zmq.Context()
def st():
    c=ctx.socket(zmq.REQ); c.connect("tcp://127.0.0.1:46200"); c.send(b"STATS"); s=json.loads(c.recv_string()); c.close()
    return s["frontend"]["connections"]
pull=ctx.socket(zmq.PULL); pull.connect("tcp://127.0.0.1:46202")
ps=[]
for i in range(int(sys.argv[2])):
    s=ctx.socket(zmq.PUSH); s.linger=0; s.connect("tcp://127.0.0.1:46201"); ps.append(s)
for t in range(6):
    time.sleep(1); print(t, st())
for i,s in enumerate(ps): s.send(b"%d"%i)
got=set()
while pull.poll(1000): got.add(pull.recv())
print("delivered from", sorted(got))
p.terminate(); p.wait()
