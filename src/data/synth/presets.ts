/**
 * Presets that mimic the shapes of the three public CTR datasets.
 *
 * Where the numbers come from (see docs/generator.md):
 * - Criteo (Kaggle Display Ads, 45.8M rows): categorical vocabularies are the
 *   published distinct counts (1460, 583, 10131227, ...). Exponents were fitted
 *   so that the expected number of distinct values in 45.8M rows equals that
 *   count and the distinct count in the first 8,000 rows matches the sample in
 *   ../shared/data (vocabularies over 2x the count are capped at 2x and fitted
 *   on the full-data count alone): about 33M distinct features in all. Integer
 *   fields: Zipf–Mandelbrot (s, q) fitted to the sample's median, 90th and 99th
 *   percentiles; vocabularies are the fields' published maxima + 1. Missing
 *   rates are the sample's.
 * - Avazu (40.4M rows over 240 hours): published vocabularies; exponents fitted
 *   to the most frequent value's share in the sample (small fields) or to the
 *   distinct counts; literal codes for the small integer-coded columns.
 * - iPinYou (make-ipinyou-data encoding): the field order and value spellings
 *   of featindex.fm.txt; vocabularies from its field sizes.
 * Which fields are informative is a choice (about half of each dataset), as are
 * the teacher scales, tuned so the Bayes-optimal AUC sits a little above the
 * best published model AUCs (Criteo ~0.81, Avazu ~0.79).
 */
import type { FieldSpec, Preset, TeacherSpec } from "./types.js";

const TEACHER: TeacherSpec = {
  dim: 4,
  informativeRanks: 1000,
  keep: 0.5,
  pairDensity: 0.25,
  signal: 2.4,
  linearShare: 0.6,
  calibrationRows: 262144,
};

/** Criteo integer field: [vocab, exponent, shift, missing]. */
const CRITEO_INT: [number, number, number, number][] = [
  [5776, 2.6, 2.01, 0.452], [257676, 1.68, 2.86, 0], [65536, 2.42, 12.18, 0.203], [970, 4.92, 22.2, 0.203],
  [23159457, 1.98, 2981, 0.05], [431038, 2.42, 73.7, 0.252], [56312, 2.28, 4.95, 0.05], [6048, 4.98, 31.5, 0.001],
  [29020, 2.7, 94.6, 0.05], [12, 4.3, 0.5, 0.452], [232, 2.96, 1.92, 0.05], [4009, 2.38, 0.05, 0.777],
  [7394, 4.44, 25.8, 0.203],
];

/** Criteo categorical field: [vocab, exponent, missing]. */
const CRITEO_CAT: [number, number, number][] = [
  [1460, 1.722, 0], [583, 0.945, 0], [20262454, 0.882, 0.033], [3643372, 1.086, 0.033], [305, 2.187, 0],
  [24, 1.701, 0.131], [12518, 0.961, 0], [633, 1.961, 0], [3, 3.306, 0], [93145, 1.099, 0],
  [5683, 1.035, 0], [16703186, 0.919, 0.033], [3194, 1.024, 0], [27, 1.276, 0], [14993, 1.131, 0],
  [10922612, 0.986, 0.033], [10, 1.276, 0], [5653, 1.253, 0], [2173, 1.966, 0.453], [4, 0.482, 0.453],
  [14093094, 0.947, 0.033], [18, 1.667, 0.817], [15, 1.419, 0], [287990, 1.163, 0.033], [105, 1.318, 0.453],
  [142586, 1.102, 0.453],
];

const CRITEO_INFORMATIVE = new Set(["I1", "I3", "I5", "I6", "I7", "I11", "I13", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C10", "C13", "C14", "C17", "C23", "C24"]);

function criteoFields(): FieldSpec[] {
  const ints = CRITEO_INT.map(([vocab, exponent, shift, missing], i): FieldSpec => ({
    name: `I${i + 1}`, kind: "integer", vocab, exponent, shift, missing,
  }));
  const cats = CRITEO_CAT.map(([vocab, exponent, missing], i): FieldSpec => ({
    name: `C${i + 1}`, kind: "categorical", vocab, exponent, missing, style: "hex8",
  }));
  return [...ints, ...cats].map((f) => (CRITEO_INFORMATIVE.has(f.name) ? { ...f, informative: true } : f));
}

/** Criteo Kaggle shape: label, I1..I13, C1..C26; click rate 0.25. */
export const CRITEO: Preset = {
  preset: "criteo",
  format: "criteo",
  clickRate: 0.25,
  fields: criteoFields(),
  teacher: { ...TEACHER },
  rowsPerHour: 190000,
  startHour: "14102100",
};

const hex = (name: string, vocab: number, exponent: number, informative = false): FieldSpec =>
  ({ name, kind: "categorical", vocab, exponent, style: "hex8", informative });
const coded = (name: string, codes: (string | number)[], exponent: number, informative = false): FieldSpec =>
  ({ name, kind: "categorical", vocab: codes.length, exponent, codes: codes.map(String), style: "dec", informative });
const dec = (name: string, vocab: number, exponent: number, base: number, informative = false, codes?: string[]): FieldSpec =>
  ({ name, kind: "categorical", vocab, exponent, style: "dec", base, informative, ...(codes ? { codes } : {}) });

/** Avazu shape: 22 feature columns as the real header (id and click aside); click rate 0.17. */
export const AVAZU: Preset = {
  preset: "avazu",
  format: "avazu",
  clickRate: 0.17,
  fields: [
    { name: "hour", kind: "hour", vocab: 240, exponent: 1 },
    coded("C1", [1005, 1002, 1010, 1012, 1007, 1001, 1008], 4.135, true),
    coded("banner_pos", [0, 1, 7, 2, 4, 5, 3], 2.824, true),
    hex("site_id", 4737, 1.526, true),
    hex("site_domain", 7745, 1.575),
    hex("site_category", 26, 1.3, true),
    hex("app_id", 8552, 1.729, true),
    hex("app_domain", 559, 2.956),
    hex("app_category", 36, 2.76, true),
    hex("device_id", 5372816, 1.071),
    hex("device_ip", 9782696, 0.882),
    hex("device_model", 8251, 1.159, true),
    coded("device_type", [1, 0, 4, 5, 2], 4.138, true),
    coded("device_conn_type", [0, 2, 3, 5], 3.84),
    dec("C14", 2626, 0.873, 15700, true),
    coded("C15", [320, 300, 216, 728, 120, 1024, 480, 768], 4.598),
    coded("C16", [50, 250, 36, 480, 90, 20, 768, 320, 1024], 4.809),
    dec("C17", 435, 1.47, 1722, true),
    coded("C18", [0, 3, 2, 1], 1.965),
    dec("C19", 68, 1.819, 33),
    dec("C20", 172, 2.041, 100000, false, ["-1"]),
    dec("C21", 60, 1.402, 1, true),
  ],
  teacher: { ...TEACHER, signal: 1.9 },
  rowsPerHour: 168454,
  startHour: "14102100",
};

const USER_AGENTS = [
  "android_safari", "android_other", "other_other", "android_chrome", "android_maxthon", "android_sogou",
  "windows_ie", "windows_chrome", "ios_safari", "android_firefox", "android_ie", "mac_safari", "windows_firefox",
  "windows_other", "mac_chrome", "linux_chrome", "ios_other", "windows_opera", "windows_maxthon",
  "windows_theworld", "windows_sogou", "mac_firefox", "linux_firefox", "android_opera",
];

/** iPinYou shape: the 16 fields of featindex.fm.txt in its order; click rate 0.008. */
export const IPINYOU: Preset = {
  preset: "ipinyou",
  format: "libsvm",
  clickRate: 0.008,
  fields: [
    coded("weekday", [0, 1, 2, 3, 4, 5, 6], 0.2),
    coded("hour", Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0")), 0.35, true),
    coded("useragent", USER_AGENTS, 1.6, true),
    { name: "IP", kind: "categorical", vocab: 131234, exponent: 0.6, style: "ip" },
    dec("region", 35, 0.8, 1, true),
    dec("city", 367, 1.0, 1),
    coded("adexchange", ["1", "2", "3", "null"], 1.0),
    { name: "domain", kind: "categorical", vocab: 800, exponent: 1.2, style: "md5", codes: ["null"], informative: true },
    { name: "slotid", kind: "categorical", vocab: 961, exponent: 1.2, style: "u32", informative: true },
    coded("slotwidth", [320, 300, 728, 250, 160, 468, 950, 1000], 2.0),
    coded("slotheight", [50, 250, 90, 600, 280, 60, 200, 150], 2.0),
    coded("slotvisibility", ["FirstView", "OtherView", "Na", "SecondView", "ThirdView", "FourthView", "FifthView", "0", "1", "2", "255"], 1.5, true),
    coded("slotformat", ["Na", "0", "1", "5"], 1.5),
    dec("creative", 60, 1.3, 10000, true),
    coded("advertiser", [2997, 1458, 2259, 2261, 2821, 3358, 3386, 3427, 3476], 1.2),
    coded("slotprice", ["1-10", "11-50", "101+", "51-100", "0"], 1.0, true),
  ],
  teacher: { ...TEACHER, signal: 1.6 },
  rowsPerHour: 10000,
  startHour: "13061900",
};

/** Presets by name. */
export const PRESETS: Readonly<Record<string, Preset>> = { criteo: CRITEO, avazu: AVAZU, ipinyou: IPINYOU };
