#!/usr/bin/env python3
"""launch_rewrite.py IN.cu OUT.cpp -- turn every `kernel<<<g, b, smem, s>>>(args)`
into `emu_launch(g, b, [&]{ kernel(args); })` for the host emulation
(scripts/cuda-emu/cuda_runtime.h).  Plain text rewriting: it expects the
launch configuration and the argument list to contain balanced parentheses."""
import sys

src = open(sys.argv[1]).read()
out, i = [], 0
while True:
    j = src.find('<<<', i)
    if j < 0:
        out.append(src[i:])
        break
    k = j
    while src[k - 1].isalnum() or src[k - 1] == '_':
        k -= 1
    name = src[k:j]
    e = src.find('>>>', j)
    cfg = [c.strip() for c in src[j + 3:e].split(',')]
    a = src.find('(', e)
    depth, m = 0, a
    while True:
        if src[m] == '(':
            depth += 1
        elif src[m] == ')':
            depth -= 1
            if depth == 0:
                break
        m += 1
    out.append(src[i:k])
    out.append('emu_launch(%s, %s, [&]{ %s(%s); })' % (cfg[0], cfg[1], name, src[a + 1:m]))
    i = m + 1
open(sys.argv[2], 'w').write(''.join(out))
