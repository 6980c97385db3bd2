#!/usr/bin/env python3
"""Helpers of bench/quality/score.sh (`make bench-quality`).

  quality.py split DEG.pcm LEFT_REF.raw LEFT_OUT.raw RIGHT_REF.raw RIGHT_OUT.raw
      opusdec's interleaved 16-bit stereo output split into its two legs, each cut to its reference's length (the
      shorter leg of a call was padded with silence; PESQ scores the reference's span).
  quality.py report RESULTS.tsv
      the table (complexity x bitrate: mean MOS-LQO over the references, encoder CPU per 20 ms stereo frame) and the
      setting the rule chooses: of the settings whose mean MOS-LQO is within 0.1 of the best, the one with the least
      encoder CPU; where several cost about the same CPU (within 5 %), the lowest bitrate among them (it is what the
      disk holds).
"""
import array
import collections
import sys

MOS_MARGIN = 0.1
CPU_TIE = 1.05


def split(deg, left_ref, left_out, right_ref, right_out):
    samples = array.array('h')
    with open(deg, 'rb') as f:
        samples.frombytes(f.read())
    for channel, ref, out in ((0, left_ref, left_out), (1, right_ref, right_out)):
        with open(ref, 'rb') as f:
            length = len(f.read()) // 2
        with open(out, 'wb') as f:
            f.write(samples[channel::2][:length].tobytes())


def report(path):
    mos = collections.defaultdict(list)
    cpu = collections.defaultdict(list)
    with open(path) as f:
        next(f)
        for line in f:
            c, b, _ref, m, us, frames = line.split('\t')
            key = (int(c), int(b))
            mos[key].append(float(m))
            cpu[key].append((float(us), int(frames)))
    cost = {k: sum(us * n for us, n in v) / sum(n for _, n in v) for k, v in cpu.items()}
    mean = {k: sum(v) / len(v) for k, v in mos.items()}
    complexities = sorted({c for c, _ in mean})
    bitrates = sorted({b for _, b in mean})

    refs = len(next(iter(mos.values())))
    print(f'mean MOS-LQO over {refs} references / encoder CPU us per 20 ms stereo frame')
    print('| complexity | ' + ' | '.join(f'{b // 1000} kbit/s' for b in bitrates) + ' |')
    print('| --- |' + ' --- |' * len(bitrates))
    for c in complexities:
        cells = [f'{mean[(c, b)]:.2f} / {cost[(c, b)]:.0f}' if (c, b) in mean else '' for b in bitrates]
        print(f'| {c} | ' + ' | '.join(cells) + ' |')

    best_key = max(mean, key=mean.get)
    within = [k for k in mean if mean[k] >= mean[best_key] - MOS_MARGIN]
    cheapest = min(cost[k] for k in within)
    tied = [k for k in within if cost[k] <= cheapest * CPU_TIE]
    chosen = min(tied, key=lambda k: (k[1], cost[k]))
    print(f'best: complexity {best_key[0]} at {best_key[1]} bit/s, MOS-LQO {mean[best_key]:.3f}; '
          f'{len(within)} settings within {MOS_MARGIN}')
    for b in bitrates:
        at = [k for k in within if k[1] == b]
        if at:
            k = min(at, key=cost.get)
            print(f'  at {b} bit/s the cheapest within: complexity {k[0]}, MOS-LQO {mean[k]:.3f}, {cost[k]:.1f} us/frame')
    c5 = (5, chosen[1])
    if c5 in mean:
        print(f'complexity 5 at {chosen[1]} bit/s: MOS-LQO {mean[c5]:.3f}, {cost[c5]:.1f} us/frame')
    print(f'default: complexity {chosen[0]} bitrate {chosen[1]} (MOS-LQO {mean[chosen]:.3f}, {cost[chosen]:.1f} us/frame)')


if __name__ == '__main__':
    if len(sys.argv) == 7 and sys.argv[1] == 'split':
        split(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == 'report':
        report(sys.argv[2])
    else:
        sys.exit(__doc__)
