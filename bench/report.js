// Builds the benchmark report from the raw output of bench/run.sh.
//
//   node bench/report.js RESULTS_DIR
//
// Reads RESULTS_DIR/raw/*.log (lines "bench=<impl> key=value ...") and
// RESULTS_DIR/machine.txt; writes RESULTS_DIR/results.md and RESULTS_DIR/results.gp (the
// gnuplot script that draws results.png, data inline).
'use strict';

const fs = require('fs');
const path = require('path');

const FLOOR = 'libpq';
const SEQUELIZE = 'sequelize';
const IMPL_ORDER = ['libdsql', 'libpq', 'sequelize'];
const IMPL_LABEL = {
  libdsql: 'libdsql',
  libpq: 'libpq (floor)',
  sequelize: 'Sequelize',
};
const IMPL_COLOR = { libdsql: '#2e8b57', libpq: '#7f7f7f', sequelize: '#3b6fb6' };
const PHASES = ['owner.create', 'pet.create', 'specialty.bulkCreate', 'vet.create+set',
  'pet.findOne+owner', 'vet.findOne+include', 'specialty.findByPk', 'owner.findOne+pets',
  'roomVisits.increment', 'owner.upsert', 'owner.findAndCountAll'];

function parseLine(line) {
  const rec = {};
  for (const field of line.trim().split(/\s+/)) {
    const eq = field.indexOf('=');
    if (eq > 0) rec[field.slice(0, eq)] = field.slice(eq + 1);
  }
  return rec.bench ? rec : null;
}

// Raw files: <impl>-rtt<ms>-run<k>.log (+ .err), tokens-<impl>[-run<k>].log.
function readRaw(dir) {
  const runs = new Map(); // "impl@rtt" -> { impl, rtt, runs: [one run], errors: [] }
  const tokens = new Map(); // impl -> { rounds: Map(k -> tokens/s), reason }
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const m = /^(.*)-rtt([0-9.]+)(?:-run([0-9]+))?\.log$/.exec(file);
    const one = { phases: new Map() };
    for (const line of text.split('\n')) {
      const rec = parseLine(line);
      if (!rec) continue;
      if (rec.tokens_per_sec !== undefined) {
        const k = Number((/-run([0-9]+)\.log$/.exec(file) || [0, 1])[1]);
        if (!tokens.has(rec.bench)) tokens.set(rec.bench, { rounds: new Map(), reason: rec.reason });
        tokens.get(rec.bench).rounds.set(k, Number(rec.tokens_per_sec));
      } else if (rec.phase) {
        one.phases.set(rec.phase, {
          ops: Number(rec.ops),
          ms: Number(rec.ms),
          roundTrips: rec.round_trips === undefined ? null : Number(rec.round_trips),
        });
      } else if (rec.total_ms) {
        one.total = Number(rec.total_ms);
        one.rss = Number(rec.peak_rss_kb);
        one.n = Number(rec.n);
      }
    }
    if (!m) continue;
    const key = `${m[1]}@${m[2]}`;
    if (!runs.has(key)) runs.set(key, { impl: m[1], rtt: m[2], runs: [], errors: [] });
    const entry = runs.get(key);
    if (one.total !== undefined) {
      entry.runs.push(one);
    } else {
      // A run that stopped early: its stderr says why.
      const errFile = path.join(dir, file.replace(/\.log$/, '.err'));
      const err = fs.existsSync(errFile) ? fs.readFileSync(errFile, 'utf8').trim() : '';
      entry.errors.push(err.split('\n').slice(-3).join(' / ') || 'no output');
    }
  }
  // The median over the complete runs, phase by phase; the largest peak RSS.
  for (const entry of runs.values()) {
    const rs = entry.runs;
    if (!rs.length) continue;
    entry.phases = new Map();
    for (const ph of rs[0].phases.keys()) {
      const all = rs.map((r) => r.phases.get(ph)).filter(Boolean);
      const ms = median(all.map((p) => p.ms));
      entry.phases.set(ph, { ops: all[0].ops, ms, roundTrips: all[0].roundTrips });
    }
    entry.total = median(rs.map((r) => r.total));
    entry.rss = Math.max(...rs.map((r) => r.rss));
    entry.n = rs[0].n;
  }
  return { runs, tokens };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

const fmtInt = (x) => Math.round(x).toLocaleString('en-US');
const fmtRatio = (x) => (Number.isFinite(x) && x > 0 ? `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×` : '–');
const opsPerSec = (p) => (p && p.ms > 0 ? (p.ops * 1000) / p.ms : NaN);

function main() {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node bench/report.js RESULTS_DIR\n');
    process.exit(2);
  }
  const { runs, tokens } = readRaw(path.join(out, 'raw'));
  const machine = fs.existsSync(path.join(out, 'machine.txt'))
    ? fs.readFileSync(path.join(out, 'machine.txt'), 'utf8').trim().split('\n') : [];
  const info = Object.fromEntries(machine.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));

  const all = [...runs.values()];
  const impls = [...new Set(all.map((r) => r.impl))]
    .sort((a, b) => (IMPL_ORDER.indexOf(a) + 1 || 99) - (IMPL_ORDER.indexOf(b) + 1 || 99));
  const rtts = [...new Set(all.map((r) => r.rtt))].sort((a, b) => Number(a) - Number(b));
  const get = (impl, rtt) => runs.get(`${impl}@${rtt}`);
  const n = info.n || (all.find((r) => r.n) || {}).n || '?';
  const label = (i) => IMPL_LABEL[i] || i;

  // Ratio columns: each implementation against the floor and against Sequelize.
  // (Sequelize ÷ floor would only be the inverse of floor ÷ Sequelize.)
  const ratioCols = [];
  for (const i of impls) {
    if (i !== FLOOR && i !== SEQUELIZE && impls.includes(FLOOR)) ratioCols.push([i, FLOOR, `${label(i)} ÷ floor`]);
    if (i !== SEQUELIZE && impls.includes(SEQUELIZE)) ratioCols.push([i, SEQUELIZE, `${label(i)} ÷ Sequelize`]);
  }

  const md = [];
  md.push(`# petclinic-${n} benchmark`, '');
  md.push(`N = ${n}; emulated round trip: ${rtts.map((r) => `${r} ms`).join(', ')}; ${info.date || ''}.`);
  md.push('Produced by `make bench` (bench/run.sh); how to read and reproduce it: docs/performance.md.', '');

  md.push('## Throughput (operations per second, higher is better)', '');
  md.push('Ratios divide ops/s: "÷ floor" is against hand-written libpq (1.00× = as fast), ' +
    '"÷ Sequelize" against the seed\'s stack. The last row is the whole workload\'s time.', '');
  for (const rtt of rtts) {
    const runsHere = Math.max(...impls.map((i) => get(i, rtt)?.runs.length || 0));
    md.push(`### RTT ${rtt} ms${rtt === '0' ? ' (direct loopback connection)' : ' (through bench/rttproxy)'}`, '');
    md.push(runsHere === 1 ? 'One run.' : `Median of ${runsHere} runs, phase by phase.`, '');
    md.push(`| phase | ops | ${impls.map(label).join(' | ')} | ${ratioCols.map((c) => c[2]).join(' | ')} |`);
    md.push(`|---|---:|${impls.map(() => '---:').join('|')}|${ratioCols.map(() => '---:').join('|')}|`);
    for (const ph of PHASES) {
      const rates = Object.fromEntries(impls.map((i) => [i, opsPerSec(get(i, rtt)?.phases?.get(ph))]));
      const ops = impls.map((i) => get(i, rtt)?.phases?.get(ph)?.ops).find((x) => x !== undefined);
      md.push(`| ${ph} | ${ops ?? '–'} | ${impls.map((i) => (Number.isFinite(rates[i]) ? fmtInt(rates[i]) : 'failed')).join(' | ')} | ` +
        `${ratioCols.map(([a, b]) => fmtRatio(rates[a] / rates[b])).join(' | ')} |`);
    }
    const totals = Object.fromEntries(impls.map((i) => [i, get(i, rtt)?.total]));
    md.push(`| **whole run, ms** (lower is better) | | ${impls.map((i) => (totals[i] ? fmtInt(totals[i]) : 'failed')).join(' | ')} | ` +
      `${ratioCols.map(([a, b]) => fmtRatio(totals[b] / totals[a])).join(' | ')} |`);
    md.push('');
  }

  // Round trips: counted by the implementations themselves; the same at every RTT.
  const counted = impls.filter((i) => rtts.some((r) => [...(get(i, r)?.phases?.values() || [])].some((p) => p.roundTrips !== null)));
  if (counted.length) {
    md.push('## Network round trips per operation', '');
    md.push('Counted by each implementation (libpq: every statement sent; Sequelize: every query ' +
      'pg sends; libdsql: its connection counters). A statement\'s first use on a connection ' +
      'also counts its prepare. Sequelize\'s findAndCountAll sends its count and its page side ' +
      'by side on two pooled connections (each new connection adds its SET TIME ZONE).', '');
    md.push(`| phase | ${counted.map(label).join(' | ')} |`);
    md.push(`|---|${counted.map(() => '---:').join('|')}|`);
    for (const ph of PHASES) {
      md.push(`| ${ph} | ${counted.map((i) => {
        const r = rtts.map((x) => get(i, x)?.phases?.get(ph)).find((p) => p && p.roundTrips !== null);
        return r ? (r.roundTrips / r.ops).toFixed(2) : '–';
      }).join(' | ')} |`);
    }
    md.push('');
  }

  md.push('## Peak memory (RSS)', '');
  md.push('C: getrusage() ru_maxrss; Node: process.resourceUsage().maxRSS. Whole process, in MiB.', '');
  md.push(`| implementation | ${rtts.map((r) => `RTT ${r} ms`).join(' | ')} |`);
  md.push(`|---|${rtts.map(() => '---:').join('|')}|`);
  for (const i of impls) {
    md.push(`| ${label(i)} | ${rtts.map((r) => (get(i, r)?.rss ? (get(i, r).rss / 1024).toFixed(1) : 'failed')).join(' | ')} |`);
  }
  md.push('');

  md.push('## Token minting', '');
  md.push('DbConnect tokens for one host and region with fixed credentials (access key, secret ' +
    'key and a 1 KiB session token), minted one after another for about a second; the same ' +
    'inputs on both sides. Each signer runs once a round, the rounds one after another; ' +
    'the table gives the median and the range over the rounds.', '');
  md.push('| signer | tokens/s (median) | range |', '|---|---:|---:|');
  const perSec = (t) => [...t.rounds.values()].filter(Number.isFinite);
  const tokenRow = (key, name) => {
    const t = tokens.get(key);
    if (!t) return `| ${name} | failed | |`;
    const xs = perSec(t);
    if (!xs.length) return `| ${name} | n/a (${(t.reason || '').replace(/_/g, ' ')}) | |`;
    return `| ${name} | ${fmtInt(median(xs))} | ${fmtInt(Math.min(...xs))}–${fmtInt(Math.max(...xs))} |`;
  };
  md.push(tokenRow('libdsql', 'libdsql (C, OpenSSL)'));
  md.push(tokenRow('js-signer', '@aws-sdk/dsql-signer (Node)'));
  const tl = tokens.get('libdsql'), tj = tokens.get('js-signer');
  if (tl && tj && perSec(tl).length && perSec(tj).length) {
    const ratios = [...tl.rounds.keys()]
      .filter((k) => Number.isFinite(tl.rounds.get(k)) && Number.isFinite(tj.rounds.get(k)))
      .map((k) => tl.rounds.get(k) / tj.rounds.get(k));
    const range = ratios.length > 1
      ? ` (round by round: ${fmtRatio(Math.min(...ratios))} to ${fmtRatio(Math.max(...ratios))})`
      : '';
    md.push('', `libdsql mints ${fmtRatio(median(perSec(tl)) / median(perSec(tj)))} as many tokens ` +
      `per second as the JS signer${range}.`);
  }
  md.push('');

  md.push('## Machine', '');
  for (const l of machine) md.push(`- ${l}`);
  md.push('');

  const failed = all.filter((r) => r.errors.length);
  if (failed.length) {
    md.push('## Failed runs', '');
    for (const r of failed) {
      for (const e of r.errors) md.push(`- ${label(r.impl)} at RTT ${r.rtt} ms: \`${e.replace(/`/g, "'")}\``);
    }
    md.push('');
  }
  md.push('![ops/s per phase](results.png)', '');
  fs.writeFileSync(path.join(out, 'results.md'), md.join('\n'));

  // ---- gnuplot: one panel per RTT, clustered bars per phase, log scale ----
  const gp = [];
  gp.push(`set terminal pngcairo size 1200,${380 * rtts.length + 60} font "sans,10"`);
  gp.push(`set output '${path.join(out, 'results.png').replace(/'/g, "''")}'`);
  for (const rtt of rtts) {
    gp.push(`$rtt${rtt.replace('.', '_')} << EOD`);
    for (const ph of PHASES) {
      gp.push(`"${ph}" ${impls.map((i) => {
        const r = opsPerSec(get(i, rtt)?.phases?.get(ph));
        return Number.isFinite(r) ? r.toFixed(1) : 'NaN';
      }).join(' ')}`);
    }
    gp.push('EOD');
  }
  const rates = all.flatMap((r) => PHASES.map((ph) => opsPerSec(r.phases?.get(ph)))).filter(Number.isFinite);
  const ymin = rates.length ? 10 ** Math.floor(Math.log10(Math.min(...rates))) : 1;
  gp.push(`set multiplot layout ${rtts.length},1 title "petclinic-${n}: operations per second by phase (log scale, higher is better)" font ",12"`);
  gp.push('set style data histograms', 'set style histogram clustered gap 1',
    'set style fill solid 0.9 border -1', 'set logscale y', `set yrange [${ymin}:*]`,
    'set grid ytics', 'set ylabel "ops/s"', 'set key outside right top',
    'set xtics nomirror rotate by -20 left', 'set bmargin 5', 'set boxwidth 0.9');
  for (const rtt of rtts) {
    gp.push(`set title "RTT ${rtt} ms"`);
    gp.push(`plot ${impls.map((i, k) => `$rtt${rtt.replace('.', '_')} using ${k + 2}${k === 0 ? ':xtic(1)' : ''} ` +
      `title "${label(i)}" linecolor rgb "${IMPL_COLOR[i] || '#aa5500'}"`).join(', ')}`);
  }
  gp.push('unset multiplot');
  fs.writeFileSync(path.join(out, 'results.gp'), gp.join('\n') + '\n');
}

main();
