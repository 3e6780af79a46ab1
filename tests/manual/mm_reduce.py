#!/usr/bin/env python3
# mm_reduce.py SHIM_TRANSCRIPT OUT - reduce a failure of tests/progs/mmmodel
# under the shim to a minimal list of operations (delta debugging over
# `mmmodel replay`): the result passes plainly and fails with the same
# message under the shim.  B= the build folder (default build/x86_64-linux-gnu).
# Get the transcript with: LD_PRELOAD=... OOMSHIELD_THRESHOLD=64K mmmodel SEED OPS > t.txt
import re, subprocess, sys, os, shutil
B=os.path.abspath(os.environ.get('B', 'build/x86_64-linux-gnu')); LIB=B+'/liboomshield.so'; P=B+'/tests/progs/mmmodel'
D='/var/tmp/red.%d'%os.getpid(); os.makedirs(D, exist_ok=True)
lines=open(sys.argv[1]).read().splitlines()
ops=[l.split(' -> ')[0] for l in lines if re.match(r'\s*\d+ \w', l) and ' -> ' in l]
mm=[l for l in lines if l.startswith('MISMATCH')][0]
last=re.sub(r'^MISMATCH seed=\d+ op=\d+: ', '', mm)
optext=last[:last.index(': ')]; msg=last[len(optext)+2:]
ops.append(optext)
def sig(m): return re.sub(r'\d+','N', re.sub(r'reads \S+', 'reads X', m))
want=sig(msg)
def run(ol, shim):
    f=D+'/t.txt'; open(f,'w').write('\n'.join(ol)+'\n')
    env=dict(os.environ)
    if shim: env.update(LD_PRELOAD=LIB, OOMSHIELD_THRESHOLD='64K', OOMSHIELD_DIR=D, OOMSHIELD_PROC_ROOT=D+'/np')
    r=subprocess.run([P,'replay',f],env=env,capture_output=True,text=True,timeout=60)
    return r.returncode, r.stdout
def bad(ol):
    if ol[-1]!=optext: return False
    rc,out=run(ol,True)
    if rc==0: return False
    m=[l for l in out.splitlines() if l.startswith('MISMATCH')]
    if not m: return False
    mt=re.sub(r'^MISMATCH seed=\d+ op=\d+: ', '', m[0]); mt=mt[mt.index(': ',20)+2:] if ': ' in mt[20:] else mt
    if sig(mt)!=want: return False
    rc2,_=run(ol,False)
    return rc2==0
assert bad(ops), 'does not reproduce in replay'
n=2
while len(ops)>=2:
    chunk=max(1,len(ops)//n); done=False
    for i in range(0,len(ops)-1,chunk):
        t=ops[:i]+ops[i+chunk:]
        if t and t[-1]==optext and bad(t):
            ops=t; n=max(n-1,2); done=True; break
    if not done:
        if chunk==1: break
        n=min(len(ops),n*2)
shutil.rmtree(D, ignore_errors=True)
open(sys.argv[2],'w').write('\n'.join(ops)+'\n')
print('\n'.join(ops)); print('->', msg)
