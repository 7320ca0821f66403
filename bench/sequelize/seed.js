// The seed's flow on the seed's stack (Sequelize 6 + pg), as Aurora DSQL's Sequelize sample
// runs it: drop and create the five tables one by one, create 2 owners and 2 pets, find
// Pet1 by name and its owner by id, bulk-create 3 specialties, create 2 vets, set their
// specialties, read each vet with its specialties, find each specialty by primary key,
// and check every value. The C side is examples/petclinic (bench/run.sh times both).
//
//   node seed.js
//
// Connects with the PG* environment as petclinic.js does. Prints one line:
//   bench=sequelize flow=seed ms=<time after connect> round_trips=<queries sent>
'use strict';

const fs = require('fs');
const pg = require('pg');
const { Sequelize, DataTypes, Model } = require('sequelize');

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

class Owner extends Model {}
class Pet extends Model {}
class VetSpecialties extends Model {}
class Specialty extends Model {}
class Vet extends Model {}

const uuid = { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 };
const columns = {
  owner: {
    id: uuid,
    name: { type: DataTypes.STRING(30), allowNull: false },
    city: { type: DataTypes.STRING(80), allowNull: false },
    telephone: { type: DataTypes.STRING(20), allowNull: true, defaultValue: null },
  },
  pet: {
    id: uuid,
    name: { type: DataTypes.STRING(30), allowNull: false },
    birthDate: { type: DataTypes.DATEONLY, allowNull: false },
    ownerId: { type: DataTypes.UUID, allowNull: true },
  },
  vetSpecialties: {
    id: uuid,
    vetId: { type: DataTypes.UUID, allowNull: true },
    specialtyId: { type: DataTypes.STRING(80), allowNull: true },
  },
  specialty: { id: { type: DataTypes.STRING(80), primaryKey: true, field: 'name' } },
  vet: { id: uuid, name: { type: DataTypes.STRING(30), allowNull: false } },
};

function check(expected, actual) {
  if (expected !== actual) {
    throw new Error(`Incorrect query result, expected: "${expected}", actual: ${actual}`);
  }
}

async function main() {
  const sequelize = new Sequelize({
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
  Owner.init(columns.owner, { sequelize, tableName: 'owner' });
  Pet.init(columns.pet, { sequelize, tableName: 'pet' });
  VetSpecialties.init(columns.vetSpecialties, { sequelize, tableName: 'vetSpecialties' });
  Specialty.init(columns.specialty, { sequelize, tableName: 'specialty' });
  Vet.init(columns.vet, { sequelize, tableName: 'vet' });
  Pet.belongsTo(Owner, { foreignKey: 'ownerId', constraints: false });
  Owner.hasMany(Pet, { foreignKey: 'ownerId', constraints: false });
  Vet.belongsToMany(Specialty, {
    through: VetSpecialties, foreignKey: 'vetId', otherKey: 'specialtyId', constraints: false,
  });
  Specialty.belongsToMany(Vet, {
    through: VetSpecialties, foreignKey: 'specialtyId', otherKey: 'vetId', as: 'Specialties',
    constraints: false,
  });
  await sequelize.authenticate(); // the connection, outside the timed flow
  roundTrips = 0;
  const t0 = process.hrtime.bigint();

  const qi = sequelize.getQueryInterface();
  for (const t of ['owner', 'pet', 'vetSpecialties', 'vet', 'specialty']) {
    await qi.dropTable(t, { cascade: true });
  }
  for (const t of ['owner', 'pet', 'vetSpecialties', 'vet', 'specialty']) {
    await qi.createTable(t, columns[t]);
  }
  const john = await Owner.create({ name: 'John Doe', city: 'Anytown' });
  await Owner.create({ name: 'Mary Major', city: 'Anytown', telephone: '555-555-0123' });
  const pet1 = await Pet.create({ name: 'Pet1', birthDate: '2006-10-25', ownerId: john.id });
  await Pet.create({ name: 'Pet2', birthDate: '2021-07-23', ownerId: john.id });
  const p = await Pet.findOne({ where: { name: 'Pet1' } });
  check(pet1.id, p.id);
  check('Pet1', p.name);
  check('2006-10-25', p.birthDate);
  const o = await Owner.findOne({ where: { id: p.ownerId } });
  check(john.id, o.id);
  check('John Doe', o.name);
  check(null, o.telephone);
  const [exotic, dogs, cats] = await Specialty.bulkCreate(
    [{ id: 'Exotic' }, { id: 'Dogs' }, { id: 'Cats' }]);
  const akua = await Vet.create({ name: 'Akua Mansa' });
  const carlos = await Vet.create({ name: 'Carlos Salazar' });
  await akua.setSpecialties([exotic]);
  await carlos.setSpecialties([cats, dogs]);
  const a = await Vet.findOne({ where: { name: 'Akua Mansa' }, include: [{ model: Specialty }] });
  check('Exotic', (a.Specialties || a.specialties).map((s) => s.id).join(', '));
  const c = await Vet.findOne({
    where: { name: 'Carlos Salazar' },
    include: [{ model: Specialty }],
    order: [[Specialty, 'id', 'ASC']],
  });
  check('Cats, Dogs', (c.Specialties || c.specialties).map((s) => s.id).join(', '));
  for (const name of ['Exotic', 'Cats', 'Dogs']) {
    const s = await Specialty.findByPk(name);
    check(name, s.id);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await sequelize.close();
  process.stdout.write(`bench=sequelize flow=seed ms=${ms.toFixed(1)} round_trips=${roundTrips}\n`);
}

main().catch((e) => {
  process.stderr.write(`seed.js: ${e.stack || e}\n`);
  process.exit(1);
});
