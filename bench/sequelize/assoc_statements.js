// Counts the statements Sequelize 6 sends for the association setters on the seed's models
// (each one is an awaited round trip on pg; none runs in a transaction), for the comparison
// in docs/associations.md. Uses the throwaway server's PG* environment and a database of
// its own (dsql_assoc_statements, dropped at the end):
//
//   scripts/localpg.sh start; eval "$(scripts/localpg.sh env)"
//   (cd bench/sequelize && npm ci && node assoc_statements.js)
'use strict';
const fs = require('fs');
const pg = require('pg');
const { Sequelize, DataTypes, Model } = require('sequelize');

const DB = 'dsql_assoc_statements';

function ssl() {
  const mode = process.env.PGSSLMODE || 'prefer';
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') return false;
  const o = { rejectUnauthorized: mode === 'verify-ca' || mode === 'verify-full' };
  if (process.env.PGSSLROOTCERT) o.ca = fs.readFileSync(process.env.PGSSLROOTCERT);
  if (process.env.PGHOST) o.servername = process.env.PGHOST;
  return o;
}

const server = {
  host: process.env.PGHOSTADDR || process.env.PGHOST || 'localhost',
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || 'postgres',
  password: process.env.PGPASSWORD,
  ssl: ssl(),
};

async function admin(sql) {
  const c = new pg.Client({ ...server, database: process.env.PGDATABASE || 'postgres' });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

let log = [];

async function count(what, fn) {
  log = [];
  await fn();
  const kinds = log.map((sql) => sql.replace(/^Executing \(\w+\): /, '').split(' ')[0]);
  console.log(`${what}: ${log.length} (${kinds.join(', ')})`);
}

async function main() {
  await admin(`DROP DATABASE IF EXISTS ${DB}`);
  await admin(`CREATE DATABASE ${DB}`);
  const sequelize = new Sequelize({
    ...server,
    username: server.user,
    database: DB,
    dialect: 'postgres',
    dialectOptions: { ssl: server.ssl, clientMinMessages: 'ignore' },
    define: { timestamps: false },
    logging: (sql) => log.push(sql),
  });
  class Owner extends Model {}
  class Pet extends Model {}
  class Specialty extends Model {}
  class Vet extends Model {}
  class VetSpecialties extends Model {}
  const uuidKey = { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 };
  Owner.init({ id: uuidKey, name: DataTypes.STRING(30), city: DataTypes.STRING(80),
               telephone: DataTypes.STRING(20) }, { sequelize, tableName: 'owner' });
  Pet.init({ id: uuidKey, name: DataTypes.STRING(30), birthDate: DataTypes.DATEONLY,
             ownerId: DataTypes.UUID }, { sequelize, tableName: 'pet' });
  Specialty.init({ id: { type: DataTypes.STRING(80), primaryKey: true, field: 'name' } },
                 { sequelize, tableName: 'specialty' });
  Vet.init({ id: uuidKey, name: DataTypes.STRING(30) }, { sequelize, tableName: 'vet' });
  VetSpecialties.init({ id: uuidKey, vetId: DataTypes.UUID, specialtyId: DataTypes.STRING(80) },
                      { sequelize, tableName: 'vetSpecialties' });
  Pet.belongsTo(Owner, { foreignKey: 'ownerId', constraints: false });
  Owner.hasMany(Pet, { foreignKey: 'ownerId', constraints: false });
  Vet.belongsToMany(Specialty, { through: VetSpecialties, foreignKey: 'vetId',
                                 otherKey: 'specialtyId', constraints: false });
  try {
    await sequelize.sync({ force: true });
    const [exotic, cats, dogs] =
      await Specialty.bulkCreate([{ id: 'Exotic' }, { id: 'Cats' }, { id: 'Dogs' }]);
    const vet = await Vet.create({ name: 'Carlos Salazar' });
    const owner = await Owner.create({ name: 'John Doe', city: 'Anytown' });
    const pets = await Pet.bulkCreate(['P1', 'P2', 'P3'].map((name) =>
      ({ name, birthDate: '2020-01-01' })));
    await count('setSpecialties([Exotic]), none before', () => vet.setSpecialties([exotic]));
    await count('setSpecialties([Cats, Dogs]), replacing Exotic',
                () => vet.setSpecialties([cats, dogs]));
    await count('setSpecialties([Cats, Dogs]), unchanged', () => vet.setSpecialties([cats, dogs]));
    await count('addSpecialties([Exotic])', () => vet.addSpecialties([exotic]));
    await count('removeSpecialties([Cats])', () => vet.removeSpecialties([cats]));
    await count('setPets([P1, P2]), none before', () => owner.setPets([pets[0], pets[1]]));
    await count('setPets([P3]), replacing', () => owner.setPets([pets[2]]));
    await count('addPets([P1])', () => owner.addPets([pets[0]]));
    await count('removePets([P1])', () => owner.removePets([pets[0]]));
    await count('pet.setOwner(owner)', () => pets[1].setOwner(owner));
  } finally {
    await sequelize.close();
    await admin(`DROP DATABASE IF EXISTS ${DB}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
