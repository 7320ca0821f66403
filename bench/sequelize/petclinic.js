// petclinic-N on the seed's stack: Sequelize 6 + pg, the seed's models, pool and options.
// The same workload, data and checks as bench/petclinic.c; keep the two in step.
//
//   node petclinic.js [-n N] [--rtt-ms MS]
//
// Connects with the PG* environment (PGHOST as the TLS server name, PGHOSTADDR as the
// address when set, PGSSLMODE, PGSSLROOTCERT). Prints one line per phase and a last
// line with the total and the peak RSS; a wrong result exits 1 with a message.
'use strict';

const fs = require('fs');
const pg = require('pg');
const { Sequelize, DataTypes, Model } = require('sequelize');

const IMPL = 'sequelize';

function usage(out) {
  out.write('usage: node petclinic.js [-n N] [--rtt-ms MS]\n');
}

function parseArgs(argv) {
  const opts = { n: 1000, rtt: '0' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-n' && i + 1 < argv.length) {
      const v = argv[++i];
      if (!/^[0-9]+$/.test(v) || Number(v) < 10 || Number(v) > 10000000) {
        process.stderr.write(`petclinic.js: -n must be a whole number from 10 to 10000000, not '${v}'\n`);
        process.exit(2);
      }
      opts.n = Number(v);
    } else if (a === '--rtt-ms' && i + 1 < argv.length) {
      const v = argv[++i];
      if (v === '' || Number.isNaN(Number(v))) {
        process.stderr.write(`petclinic.js: --rtt-ms must be a number, not '${v}'\n`);
        process.exit(2);
      }
      opts.rtt = v;
    } else if (a === '-h' || a === '--help') {
      usage(process.stdout);
      process.exit(0);
    } else {
      usage(process.stderr);
      process.exit(2);
    }
  }
  return opts;
}

// Every query pg sends is one network round trip (extended protocol: Parse, Bind,
// Execute and Sync go out together). The seed plugs its connector in the same way.
let roundTrips = 0;
class CountingClient extends pg.Client {
  query(...args) {
    roundTrips++;
    return super.query(...args);
  }
}

function sslOptions() {
  const mode = process.env.PGSSLMODE || 'prefer';
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') return false;
  const ssl = { rejectUnauthorized: mode === 'verify-ca' || mode === 'verify-full' };
  if (process.env.PGSSLROOTCERT) ssl.ca = fs.readFileSync(process.env.PGSSLROOTCERT);
  if (mode === 'verify-full' && process.env.PGHOST) ssl.servername = process.env.PGHOST;
  if (mode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
  return ssl;
}

function connect() {
  return new Sequelize({
    host: process.env.PGHOSTADDR || process.env.PGHOST || 'localhost',
    port: Number(process.env.PGPORT || 5432),
    database: process.env.PGDATABASE || 'postgres',
    username: process.env.PGUSER || 'postgres',
    password: process.env.PGPASSWORD,
    dialect: 'postgres',
    dialectModule: { ...pg, Client: CountingClient },
    dialectOptions: { clientMinMessages: 'ignore', ssl: sslOptions() },
    define: { timestamps: false },
    pool: { max: 5, min: 0, acquire: 30000, idle: 10000 },
    logging: false,
  });
}

class Owner extends Model {}
class Pet extends Model {}
class VetSpecialties extends Model {}
class Specialty extends Model {}
class Vet extends Model {}
class RoomVisits extends Model {}

const ROOMS = 10;
const PAGE_SIZE = 10;

async function resetSchema(sequelize) {
  const qi = sequelize.getQueryInterface();
  for (const t of ['roomVisits', 'vetSpecialties', 'pet', 'vet', 'specialty', 'owner']) {
    await qi.dropTable(t, { cascade: true, force: true });
  }
  await qi.createTable('owner', {
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    name: { type: DataTypes.STRING(30), allowNull: false },
    city: { type: DataTypes.STRING(80), allowNull: false },
    telephone: { type: DataTypes.STRING(20), allowNull: true, defaultValue: null },
  });
  await qi.createTable('pet', {
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    name: { type: DataTypes.STRING(30), allowNull: false },
    birthDate: { type: DataTypes.DATEONLY, allowNull: false },
    ownerId: { type: DataTypes.UUID, allowNull: true },
  });
  await qi.createTable('specialty', {
    id: { type: DataTypes.STRING(80), primaryKey: true, field: 'name' },
  });
  await qi.createTable('vet', {
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    name: { type: DataTypes.STRING(30), allowNull: false },
  });
  await qi.createTable('vetSpecialties', {
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    vetId: { type: DataTypes.UUID, allowNull: true },
    specialtyId: { type: DataTypes.STRING(80), allowNull: true },
  });
  await qi.createTable('roomVisits', {
    room: { type: DataTypes.INTEGER, primaryKey: true },
    visits: { type: DataTypes.INTEGER, allowNull: false },
  });
}

// The counter rows of the increment phase, after defineModels.
async function seedRooms() {
  await RoomVisits.bulkCreate(Array.from({ length: ROOMS }, (_, room) => ({ room, visits: 0 })));
}

function defineModels(sequelize) {
  Owner.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    name: { type: DataTypes.STRING(30), allowNull: false },
    city: { type: DataTypes.STRING(80), allowNull: false },
    telephone: { type: DataTypes.STRING(20), allowNull: true, defaultValue: null },
  }, { sequelize, tableName: 'owner' });
  Pet.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    name: { type: DataTypes.STRING(30), allowNull: false },
    birthDate: { type: DataTypes.DATEONLY, allowNull: false },
    ownerId: { type: DataTypes.UUID, allowNull: true },
  }, { sequelize, tableName: 'pet' });
  VetSpecialties.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    vetId: { type: DataTypes.UUID, allowNull: true },
    specialtyId: { type: DataTypes.STRING(80), allowNull: true },
  }, { sequelize, tableName: 'vetSpecialties' });
  Specialty.init({
    id: { type: DataTypes.STRING(80), primaryKey: true, field: 'name' },
  }, { sequelize, tableName: 'specialty' });
  Vet.init({
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
    name: { type: DataTypes.STRING(30), allowNull: false },
  }, { sequelize, tableName: 'vet' });
  RoomVisits.init({
    room: { type: DataTypes.INTEGER, primaryKey: true },
    visits: { type: DataTypes.INTEGER, allowNull: false },
  }, { sequelize, tableName: 'roomVisits' });

  Pet.belongsTo(Owner, { foreignKey: 'ownerId', constraints: false });
  Owner.hasMany(Pet, { foreignKey: 'ownerId', constraints: false });
  Vet.belongsToMany(Specialty, {
    through: VetSpecialties, foreignKey: 'vetId', otherKey: 'specialtyId', constraints: false,
  });
  Specialty.belongsToMany(Vet, {
    through: VetSpecialties, foreignKey: 'specialtyId', otherKey: 'vetId', as: 'Specialties',
    constraints: false,
  });
}

// ---- the data (as in petclinic.c) ----

const SPECIALTIES = ['Radiology', 'Surgery', 'Dentistry', 'Cardiology', 'Exotic',
  'Dogs', 'Oncology', 'Dermatology', 'Cats', 'Anesthesia'];
const BIRTH_DATE = '2006-10-25';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ownerData = (i) => ({
  name: `Owner ${i}`,
  city: 'Anytown',
  telephone: i % 2 === 1 ? `555-${String(i).padStart(7, '0')}` : null,
});
// Owner i as the upsert phase leaves it: the even ones got a telephone of the 556 range.
const ownerDataUpserted = (i) => ({
  ...ownerData(i),
  ...(i % 2 === 0 ? { telephone: `556-${String(i).padStart(7, '0')}` } : {}),
});
const petName = (i, j) => `Pet ${i}.${j}`;
const vetSpecialties = (i) => [SPECIALTIES[i % 10], SPECIALTIES[(i + 3) % 10]];

// ---- checks ----

const state = { phase: 'setup', op: 0 };

class CheckFailed extends Error {}

function fail(msg) {
  throw new CheckFailed(msg);
}

function expectEq(field, want, got) {
  if (want !== got) fail(`${field}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

function checkOwner(ownerIds, i, o, want = ownerData(i)) {
  checkOwnerIs(ownerIds[i], want, o);
}

function checkOwnerIs(id, want, o) {
  if (!o) fail('owner: no row found');
  expectEq('owner.id', id, o.id);
  expectEq('owner.name', want.name, o.name);
  expectEq('owner.city', want.city, o.city);
  expectEq('owner.telephone', want.telephone, o.telephone);
}

function checkPet(ownerIds, i, p) {
  expectEq('pet.ownerId', ownerIds[i], p.ownerId);
  expectEq('pet.birthDate', BIRTH_DATE, p.birthDate);
  if (!UUID_RE.test(p.id)) fail(`pet.id: expected a UUID, got ${JSON.stringify(p.id)}`);
}

// ---- the phases ----

function phases(n) {
  const ownerIds = new Array(n);
  const tenth = Math.floor(n / 10);
  const specialties = new Map();
  // Owner indexes in the order of their names (byte order, the server's collation is C).
  const byName = Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => (`Owner ${a}` < `Owner ${b}` ? -1 : `Owner ${a}` > `Owner ${b}` ? 1 : 0));
  return [
    ['owner.create', async () => {
      for (state.op = 0; state.op < n; state.op++) {
        const o = await Owner.create(ownerData(state.op));
        if (!UUID_RE.test(o.id)) fail(`owner.create: expected a UUID id, got ${o.id}`);
        ownerIds[state.op] = o.id;
      }
      return n;
    }],
    ['pet.create', async () => {
      for (state.op = 0; state.op < n; state.op++) {
        for (let j = 0; j < 2; j++) {
          const p = await Pet.create({
            name: petName(state.op, j), birthDate: BIRTH_DATE, ownerId: ownerIds[state.op],
          });
          if (!UUID_RE.test(p.id)) fail(`pet.create: expected a UUID id, got ${p.id}`);
        }
      }
      return 2 * n;
    }],
    ['specialty.bulkCreate', async () => {
      state.op = 0;
      const rows = await Specialty.bulkCreate(SPECIALTIES.map((id) => ({ id })));
      expectEq('number of specialties created', SPECIALTIES.length, rows.length);
      for (const s of rows) specialties.set(s.id, s);
      return 1;
    }],
    ['vet.create+set', async () => {
      for (state.op = 0; state.op < tenth; state.op++) {
        const vet = await Vet.create({ name: `Vet ${state.op}` });
        if (!UUID_RE.test(vet.id)) fail(`vet.create: expected a UUID id, got ${vet.id}`);
        await vet.setSpecialties(vetSpecialties(state.op).map((s) => specialties.get(s)));
      }
      return tenth;
    }],
    ['pet.findOne+owner', async () => {
      for (state.op = 0; state.op < n; state.op++) {
        const name = petName(state.op, 0);
        const pet = await Pet.findOne({ where: { name } });
        if (!pet) fail('pet.findOne: no row found');
        expectEq('pet.name', name, pet.name);
        checkPet(ownerIds, state.op, pet);
        const owner = await Owner.findOne({ where: { id: pet.ownerId } });
        checkOwner(ownerIds, state.op, owner);
      }
      return n;
    }],
    ['vet.findOne+include', async () => {
      for (state.op = 0; state.op < tenth; state.op++) {
        const name = `Vet ${state.op}`;
        const vet = await Vet.findOne({
          where: { name },
          include: [{ model: Specialty, as: 'Specialties' }],
          order: [[{ model: Specialty, as: 'Specialties' }, 'id', 'ASC']],
        });
        if (!vet) fail('vet.findOne+include: no row found');
        expectEq('vet.name', name, vet.name);
        if (!UUID_RE.test(vet.id)) fail(`vet.id: expected a UUID, got ${vet.id}`);
        // Ordered by name, in byte order (the server's collation is C).
        const want = vetSpecialties(state.op).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expectEq('number of vet.Specialties', want.length, vet.Specialties.length);
        want.forEach((s, k) => expectEq('vet.Specialties[k] (ordered by name)', s, vet.Specialties[k].id));
      }
      return tenth;
    }],
    ['specialty.findByPk', async () => {
      for (state.op = 0; state.op < n; state.op++) {
        const name = SPECIALTIES[state.op % 10];
        const s = await Specialty.findByPk(name);
        if (!s) fail('specialty.findByPk: no row found');
        expectEq('specialty.id', name, s.id);
      }
      return n;
    }],
    ['owner.findOne+pets', async () => {
      for (state.op = 0; state.op < tenth; state.op++) {
        const i = state.op * 10;
        const owner = await Owner.findOne({ where: { name: ownerData(i).name }, include: [Pet] });
        checkOwner(ownerIds, i, owner);
        expectEq('number of owner.Pets', 2, owner.Pets.length);
        const names = owner.Pets.map((p) => p.name).sort();
        expectEq('owner.Pets names', JSON.stringify([petName(i, 0), petName(i, 1)]),
          JSON.stringify(names));
        for (const p of owner.Pets) checkPet(ownerIds, i, p);
      }
      return tenth;
    }],
    ['roomVisits.increment', async () => {
      // Room i % 10 gets 1 + i % 3 more visits; the new value as the UPDATE returned it.
      const want = new Array(ROOMS).fill(0);
      for (state.op = 0; state.op < n; state.op++) {
        const room = state.op % ROOMS;
        const by = 1 + (state.op % 3);
        want[room] += by;
        // Model.increment on postgres: one UPDATE ... RETURNING *, answering [[rows, count]].
        const [[rows, count]] = await RoomVisits.increment({ visits: by }, { where: { room } });
        expectEq('rows incremented', 1, count);
        expectEq(`roomVisits.visits of room ${room}`, want[room], rows[0].visits);
      }
      return n;
    }],
    ['owner.upsert', async () => {
      // The even ones update owner i, the odd ones insert "Client i" in Newtown.
      for (state.op = 0; state.op < n; state.op++) {
        const i = state.op;
        const want = i % 2 === 0
          ? { id: ownerIds[i], ...ownerDataUpserted(i) }
          : { name: `Client ${i}`, city: 'Newtown', telephone: null };
        const [o] = await Owner.upsert(want);
        if (!UUID_RE.test(o.id)) fail(`owner.upsert: expected a UUID id, got ${o.id}`);
        checkOwnerIs(want.id || o.id, want, o);
      }
      return n;
    }],
    ['owner.findAndCountAll', async () => {
      const pages = Math.floor(n / PAGE_SIZE);
      for (state.op = 0; state.op < pages; state.op++) {
        const offset = state.op * PAGE_SIZE;
        const { count, rows } = await Owner.findAndCountAll({
          where: { city: 'Anytown' }, order: [['name', 'ASC']], limit: PAGE_SIZE, offset,
        });
        expectEq('owner.findAndCountAll total', n, count);
        expectEq('owner.findAndCountAll rows', PAGE_SIZE, rows.length);
        rows.forEach((o, k) => {
          const i = byName[offset + k];
          checkOwner(ownerIds, i, o, ownerDataUpserted(i));
        });
      }
      return pages;
    }],
  ];
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const sequelize = connect();
  await sequelize.authenticate();
  await resetSchema(sequelize);
  defineModels(sequelize);
  await seedRooms();

  let total = 0;
  for (const [name, fn] of phases(opts.n)) {
    state.phase = name;
    const rt0 = roundTrips;
    const t0 = process.hrtime.bigint();
    const ops = await fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    total += ms;
    process.stdout.write(`bench=${IMPL} phase=${name} ops=${ops} ms=${ms.toFixed(3)} ` +
      `rtt_ms=${opts.rtt} round_trips=${roundTrips - rt0}\n`);
  }
  await sequelize.close();
  const rss = process.resourceUsage().maxRSS;
  process.stdout.write(`bench=${IMPL} total_ms=${total.toFixed(3)} peak_rss_kb=${rss} ` +
    `rtt_ms=${opts.rtt} n=${opts.n}\n`);
}

main().catch((err) => {
  const what = err instanceof CheckFailed ? err.message : `${err.name}: ${err.message}`;
  process.stderr.write(`bench=${IMPL} FAILED phase=${state.phase} op=${state.op}: ${what}\n`);
  process.exit(1);
});
