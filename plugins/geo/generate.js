#!/usr/bin/env node
// Regenerates etc/geo/world.geojson and etc/geo/usa.geojson from public-domain Natural Earth
// data (npm packages world-atlas 2.x and us-atlas 3.x, TopoJSON) and Debian's iso-codes.
//
//   tmp=$(mktemp -d) && (cd "$tmp" && npm install world-atlas@2 us-atlas@3 topojson-client@3)
//   NODE_PATH="$tmp/node_modules" node plugins/geo/generate.js etc/geo
//
// Every feature carries names and codes in `properties`:
//   world: {name, iso_a2, iso_a3, iso_n3}  (ISO 3166-1; the feature id is iso_a3)
//   usa:   {name, postal, fips}            (USPS code and FIPS state code; the id is postal)
// Natural Earth draws a few areas ISO 3166-1 has no code for; they are folded into the
// country ISO counts them in (N. Cyprus -> CY, Somaliland -> SO, Siachen Glacier -> IN,
// Ashmore and Cartier Is. -> AU), "Indian Ocean Ter." is split into Christmas Island (CX)
// and the Cocos (Keeling) Islands (CC), and Kosovo gets the user-assigned code XK / XKX.
// The script fails if any feature is left without codes.
'use strict';
const fs = require('fs');
const path = require('path');
const topojson = require('topojson-client');

const outDir = process.argv[2] || path.join(__dirname, '..', '..', 'etc', 'geo');
const isoFile = process.env.ISO_3166_JSON || '/usr/share/iso-codes/json/iso_3166-1.json';
const iso = JSON.parse(fs.readFileSync(isoFile, 'utf8'))['3166-1'];
const byNumeric = new Map(iso.map((c) => [c.numeric, c]));
const byAlpha2 = new Map(iso.map((c) => [c.alpha_2, c]));

// 1:50m is fine enough for a choropleth; 3 decimals (~100 m) is below its resolution.
const round = (x) => Math.round(x * 1000) / 1000;
function roundCoords(c) {
	return typeof c[0] === 'number' ? [round(c[0]), round(c[1])] : c.map(roundCoords);
}
function dropRepeats(ring) {
	const out = [];
	for (const p of ring) {
		const last = out[out.length - 1];
		if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
	}
	return out;
}
function cleanGeometry(g) {
	const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
	const clean = polys
		.map((rings) => rings.map((r) => dropRepeats(roundCoords(r))).filter((r) => r.length >= 4))
		.filter((rings) => rings.length > 0);
	if (clean.length === 1) return {type: 'Polygon', coordinates: clean[0]};
	return {type: 'MultiPolygon', coordinates: clean};
}

function isoProps(country, name) {
	return {
		name: name || country.common_name || country.name,
		iso_a2: country.alpha_2,
		iso_a3: country.alpha_3,
		iso_n3: country.numeric,
	};
}

function world() {
	const topo = require('world-atlas/countries-50m.json');
	const geoms = topo.objects.countries.geometries;
	const foldInto = {'N. Cyprus': '196', Somaliland: '706', 'Siachen Glacier': '356'};
	const groups = new Map(); // numeric -> [geometry objects]
	const features = [];
	for (const g of geoms) {
		const name = g.properties.name;
		let id = g.id;
		if (id === undefined && foldInto[name]) id = foldInto[name];
		if (id !== undefined) {
			if (!byNumeric.has(id)) throw new Error(`no ISO 3166-1 entry for ${id} (${name})`);
			if (!groups.has(id)) groups.set(id, []);
			groups.get(id).push(g);
		} else if (name === 'Kosovo') {
			const f = topojson.feature(topo, g);
			features.push({type: 'Feature', id: 'XKX',
				properties: {name: 'Kosovo', iso_a2: 'XK', iso_a3: 'XKX', iso_n3: null},
				geometry: cleanGeometry(f.geometry)});
		} else if (name === 'Indian Ocean Ter.') {
			// Christmas Island lies east of 100E, the Cocos (Keeling) Islands west of it.
			const f = topojson.feature(topo, g).geometry;
			const polys = f.type === 'Polygon' ? [f.coordinates] : f.coordinates;
			for (const [a2, east] of [['CX', true], ['CC', false]]) {
				const part = polys.filter((p) => (p[0][0][0] > 100) === east);
				if (part.length === 0) throw new Error(`no polygon for ${a2}`);
				const c = byAlpha2.get(a2);
				features.push({type: 'Feature', id: c.alpha_3, properties: isoProps(c),
					geometry: cleanGeometry({type: 'MultiPolygon', coordinates: part})});
			}
		} else {
			throw new Error(`feature without an ISO code: ${name}`);
		}
	}
	for (const [id, parts] of groups) {
		const c = byNumeric.get(id);
		const geometry = parts.length === 1 ? topojson.feature(topo, parts[0]).geometry
			: topojson.merge(topo, parts);
		features.push({type: 'Feature', id: c.alpha_3, properties: isoProps(c),
			geometry: cleanGeometry(geometry)});
	}
	features.sort((a, b) => a.properties.iso_a3.localeCompare(b.properties.iso_a3));
	return {type: 'FeatureCollection', features};
}

// FIPS 5-2 state codes -> USPS codes (states, DC and the territories us-atlas draws).
const USPS = {
	'01': 'AL', '02': 'AK', '04': 'AZ', '05': 'AR', '06': 'CA', '08': 'CO', '09': 'CT',
	'10': 'DE', '11': 'DC', '12': 'FL', '13': 'GA', '15': 'HI', '16': 'ID', '17': 'IL',
	'18': 'IN', '19': 'IA', '20': 'KS', '21': 'KY', '22': 'LA', '23': 'ME', '24': 'MD',
	'25': 'MA', '26': 'MI', '27': 'MN', '28': 'MS', '29': 'MO', '30': 'MT', '31': 'NE',
	'32': 'NV', '33': 'NH', '34': 'NJ', '35': 'NM', '36': 'NY', '37': 'NC', '38': 'ND',
	'39': 'OH', '40': 'OK', '41': 'OR', '42': 'PA', '44': 'RI', '45': 'SC', '46': 'SD',
	'47': 'TN', '48': 'TX', '49': 'UT', '50': 'VT', '51': 'VA', '53': 'WA', '54': 'WV',
	'55': 'WI', '56': 'WY', '60': 'AS', '66': 'GU', '69': 'MP', '72': 'PR', '78': 'VI',
};

function usa() {
	const topo = require('us-atlas/states-10m.json');
	const features = topo.objects.states.geometries.map((g) => {
		const postal = USPS[g.id];
		if (!postal) throw new Error(`no USPS code for FIPS ${g.id} (${g.properties.name})`);
		return {type: 'Feature', id: postal,
			properties: {name: g.properties.name, postal, fips: g.id},
			geometry: cleanGeometry(topojson.feature(topo, g).geometry)};
	});
	features.sort((a, b) => a.properties.fips.localeCompare(b.properties.fips));
	return {type: 'FeatureCollection', features};
}

fs.mkdirSync(outDir, {recursive: true});
for (const [name, make] of [['world', world], ['usa', usa]]) {
	const collection = make();
	const file = path.join(outDir, `${name}.geojson`);
	fs.writeFileSync(file, JSON.stringify(collection) + '\n');
	console.log(`${file}: ${collection.features.length} features`);
}
