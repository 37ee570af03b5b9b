//! HPACK (RFC 7541) for the HTTP/2 client codec (`h2.rs`): the decoder for response header
//! blocks and the few encoding primitives a request needs.
//!
//! The load engine only needs a response's `:status`; every other field is parsed and skipped.
//! Decoding must still follow the server's dynamic table exactly, because a later block may refer
//! to any entry. So the table keeps, per entry, only what the decoder can need again: the name
//! and value lengths (an entry's size is their sum plus 32, which drives eviction) and what the
//! name is (`:status` with its value, another pseudo-header, or a regular field). That is 6 bytes
//! per entry instead of the strings: the whole table is a fixed ring of `TABLE_SIZE / 32`
//! entries (768 bytes), inside the connection, with no allocation ever.
//!
//! Why keep a real dynamic table rather than advertise `SETTINGS_HEADER_TABLE_SIZE = 0`: a
//! server may index fields before it has seen that setting, so a decoder that wants to be right
//! for every compliant server needs the table machinery anyway, and with it in place the
//! default size (4096, so nothing to advertise) lets servers that index (h2, nghttp2, nginx for
//! some fields) send each response's repeated fields as one-byte references: fewer bytes to
//! encrypt, decrypt and parse per request.
//!
//! Huffman-coded strings are decoded by a 4-bit state machine generated at compile time from
//! the code table (RFC 7541 Appendix B), only when their decoded content or length matters:
//! a `:status` value, a literal name, and a field that is inserted into the table. A field that
//! is neither is skipped by its encoded length.

/// The dynamic table size we allow the server (the protocol default, so never advertised).
pub(crate) const TABLE_SIZE: usize = 4096;
/// RFC 7541 4.1: an entry's size is its name and value lengths plus this.
const ENTRY_OVERHEAD: usize = 32;
/// Every entry takes at least 32 bytes, so at most this many fit in the table.
const MAX_ENTRIES: usize = TABLE_SIZE / ENTRY_OVERHEAD;

const TRUNCATED: &str = "HPACK: truncated header block";

/// What a decoded field is, as far as a response cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular (non-pseudo) field.
    Regular,
    /// `:status` with a valid 3-digit code.
    Status(u16),
    /// `:status` whose value is not a 3-digit code (100–999).
    BadStatus,
    /// Any other pseudo-header (`:method`, `:path`, ...): not allowed in a response.
    Pseudo,
}

impl Kind {
    fn tag(self) -> u16 {
        match self {
            Kind::Regular => 0,
            Kind::Pseudo => 1,
            Kind::BadStatus => 2,
            Kind::Status(s) => s,
        }
    }

    fn of_tag(tag: u16) -> Kind {
        match tag {
            0 => Kind::Regular,
            1 => Kind::Pseudo,
            2 => Kind::BadStatus,
            s => Kind::Status(s),
        }
    }

    fn is_status_name(self) -> bool {
        matches!(self, Kind::Status(_) | Kind::BadStatus)
    }
}

/// A decoded field's name or value, as far as the decoder knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text<'a> {
    /// From the static table.
    Static(&'static str),
    /// A literal, as sent (Huffman-coded or not).
    Raw { bytes: &'a [u8], huffman: bool },
    /// From the dynamic table, which keeps lengths only.
    Dynamic(usize),
}

/// One field of a header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub kind: Kind,
    pub name: Text<'a>,
    pub value: Text<'a>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    name_len: u16,
    value_len: u16,
    tag: u16,
}

impl Entry {
    fn size(self) -> usize {
        self.name_len as usize + self.value_len as usize + ENTRY_OVERHEAD
    }
}

/// The response decoder of one connection: the dynamic table's metadata in a fixed ring.
pub(crate) struct Decoder {
    ring: [Entry; MAX_ENTRIES],
    /// Slot of the newest entry (index 62); older entries follow it, wrapping.
    newest: usize,
    len: usize,
    size: usize,
    /// The table's current maximum size, as the last size update set it.
    max: usize,
    /// The largest maximum a size update may set (our SETTINGS_HEADER_TABLE_SIZE).
    limit: usize,
}

impl Decoder {
    /// A decoder whose table may grow to `limit` bytes (at most [`TABLE_SIZE`]).
    pub(crate) fn new(limit: usize) -> Decoder {
        let limit = limit.min(TABLE_SIZE);
        Decoder {
            ring: [Entry::default(); MAX_ENTRIES],
            newest: 0,
            len: 0,
            size: 0,
            max: limit,
            limit,
        }
    }

    /// The dynamic table's size in RFC 7541 terms (sum of entry sizes).
    #[cfg(test)]
    pub(crate) fn table_size(&self) -> usize {
        self.size
    }

    /// Decodes one complete header block, calling `each` per field in order. An error (from the
    /// block or from `each`) leaves the table unusable: the connection must be closed
    /// (COMPRESSION_ERROR).
    pub(crate) fn decode<'a>(
        &mut self,
        block: &'a [u8],
        mut each: impl FnMut(Field<'a>) -> Result<(), &'static str>,
    ) -> Result<(), &'static str> {
        let mut p = 0;
        let mut fields = false;
        while let Some(&b) = block.get(p) {
            if b & 0x80 != 0 {
                let index = integer(block, &mut p, 7)?;
                each(self.indexed(index)?)?;
            } else if b & 0x40 != 0 {
                each(self.literal(block, &mut p, 6, true)?)?;
            } else if b & 0x20 != 0 {
                // RFC 7541 4.2: only at the start of a block.
                if fields {
                    return Err("HPACK: dynamic table size update after a field");
                }
                let max = integer(block, &mut p, 5)?;
                if max > self.limit {
                    return Err("HPACK: dynamic table size update above SETTINGS_HEADER_TABLE_SIZE");
                }
                self.max = max;
                self.evict_to(max);
                continue;
            } else {
                // Literal without indexing (0000) or never indexed (0001): the same to a decoder.
                each(self.literal(block, &mut p, 4, false)?)?;
            }
            fields = true;
        }
        Ok(())
    }

    fn entry(&self, index: usize) -> Result<Entry, &'static str> {
        let i = index - STATIC.len() - 1;
        if i >= self.len {
            return Err("HPACK: index beyond the dynamic table");
        }
        Ok(self.ring[(self.newest + i) % MAX_ENTRIES])
    }

    fn indexed(&self, index: usize) -> Result<Field<'static>, &'static str> {
        match index {
            0 => Err("HPACK: index 0"),
            i if i <= STATIC.len() => {
                let (name, value) = STATIC[i - 1];
                Ok(Field {
                    kind: static_kind(i),
                    name: Text::Static(name),
                    value: Text::Static(value),
                })
            }
            i => {
                let e = self.entry(i)?;
                Ok(Field {
                    kind: Kind::of_tag(e.tag),
                    name: Text::Dynamic(e.name_len as usize),
                    value: Text::Dynamic(e.value_len as usize),
                })
            }
        }
    }

    fn literal<'a>(
        &mut self,
        block: &'a [u8],
        p: &mut usize,
        prefix: u32,
        index: bool,
    ) -> Result<Field<'a>, &'static str> {
        let name_index = integer(block, p, prefix)?;
        let (name_kind, name_len, name) = match name_index {
            0 => {
                let (bytes, huffman) = string(block, p)?;
                let mut head = [0u8; 8];
                let len = decode_head(bytes, huffman, &mut head)?;
                let kind = if len == 7 && &head[..7] == b":status" {
                    Kind::BadStatus
                } else if len > 0 && head[0] == b':' {
                    Kind::Pseudo
                } else {
                    Kind::Regular
                };
                (kind, len, Text::Raw { bytes, huffman })
            }
            i if i <= STATIC.len() => {
                let name = STATIC[i - 1].0;
                (static_kind(i), name.len(), Text::Static(name))
            }
            i => {
                let e = self.entry(i)?;
                let len = e.name_len as usize;
                (Kind::of_tag(e.tag), len, Text::Dynamic(len))
            }
        };
        let (bytes, huffman) = string(block, p)?;
        let (kind, value_len) = if name_kind.is_status_name() {
            let mut head = [0u8; 8];
            let len = decode_head(bytes, huffman, &mut head)?;
            let kind = match status_code(&head[..len.min(8)]) {
                Some(s) if len == 3 => Kind::Status(s),
                _ => Kind::BadStatus,
            };
            (kind, len)
        } else if index {
            (name_kind, decoded_len(bytes, huffman)?)
        } else {
            (name_kind, 0)
        };
        if index {
            self.insert(name_len, value_len, kind);
        }
        Ok(Field {
            kind,
            name,
            value: Text::Raw { bytes, huffman },
        })
    }

    /// RFC 7541 4.4: evict until the new entry fits; one larger than the table empties it.
    fn insert(&mut self, name_len: usize, value_len: usize, kind: Kind) {
        let size = name_len.saturating_add(value_len).saturating_add(ENTRY_OVERHEAD);
        if size > self.max {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max - size);
        // The table's size bounds both lengths by `max` ≤ TABLE_SIZE, and the entry count by
        // MAX_ENTRIES, so neither the casts nor the slot can overflow.
        self.newest = (self.newest + MAX_ENTRIES - 1) % MAX_ENTRIES;
        self.ring[self.newest] = Entry {
            name_len: name_len as u16,
            value_len: value_len as u16,
            tag: kind.tag(),
        };
        self.len += 1;
        self.size += size;
    }

    fn evict_to(&mut self, max: usize) {
        while self.size > max && self.len > 0 {
            self.len -= 1;
            self.size -= self.ring[(self.newest + self.len) % MAX_ENTRIES].size();
        }
    }

    /// `(name length, value length)` of each entry, newest first.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<(usize, usize)> {
        (0..self.len)
            .map(|i| {
                let e = self.ring[(self.newest + i) % MAX_ENTRIES];
                (e.name_len as usize, e.value_len as usize)
            })
            .collect()
    }
}

fn static_kind(index: usize) -> Kind {
    match index {
        1..=7 => Kind::Pseudo,
        8..=14 => status_code(STATIC[index - 1].1.as_bytes()).map_or(Kind::BadStatus, Kind::Status),
        _ => Kind::Regular,
    }
}

/// A `:status` value: exactly three digits, 100–999.
fn status_code(v: &[u8]) -> Option<u16> {
    match v {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            Some((a - b'0') as u16 * 100 + (b - b'0') as u16 * 10 + (c - b'0') as u16)
        }
        _ => None,
    }
}

/// RFC 7541 5.1: an integer with an `prefix`-bit prefix, starting at `block[*p]`.
fn integer(block: &[u8], p: &mut usize, prefix: u32) -> Result<usize, &'static str> {
    let mask = ((1u16 << prefix) - 1) as u8;
    let first = block.get(*p).ok_or(TRUNCATED)? & mask;
    *p += 1;
    if first < mask {
        return Ok(first as usize);
    }
    let mut value = mask as u64;
    let mut shift = 0;
    loop {
        let b = *block.get(*p).ok_or(TRUNCATED)?;
        *p += 1;
        value += ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            // Anything this large is beyond any block or table anyway.
            return usize::try_from(value).map_err(|_| "HPACK: integer too large");
        }
        shift += 7;
        if shift > 28 {
            return Err("HPACK: integer too large");
        }
    }
}

/// RFC 7541 5.2: a string literal's bytes (as sent) and whether they are Huffman-coded.
fn string<'a>(block: &'a [u8], p: &mut usize) -> Result<(&'a [u8], bool), &'static str> {
    let huffman = block.get(*p).ok_or(TRUNCATED)? & 0x80 != 0;
    let len = integer(block, p, 7)?;
    let end = p.checked_add(len).filter(|&e| e <= block.len()).ok_or(TRUNCATED)?;
    let bytes = &block[*p..end];
    *p = end;
    Ok((bytes, huffman))
}

/// The decoded length of a string literal.
fn decoded_len(bytes: &[u8], huffman: bool) -> Result<usize, &'static str> {
    if !huffman {
        return Ok(bytes.len());
    }
    let mut n = 0;
    huffman_decode(bytes, |_| n += 1)?;
    Ok(n)
}

/// The decoded length of a string literal, with its first bytes copied into `head`.
fn decode_head(bytes: &[u8], huffman: bool, head: &mut [u8; 8]) -> Result<usize, &'static str> {
    if !huffman {
        let n = bytes.len().min(head.len());
        head[..n].copy_from_slice(&bytes[..n]);
        return Ok(bytes.len());
    }
    let mut n = 0;
    huffman_decode(bytes, |b| {
        if let Some(slot) = head.get_mut(n) {
            *slot = b;
        }
        n += 1;
    })?;
    Ok(n)
}

/// Decodes a Huffman-coded string, calling `emit` per decoded byte. Fails on the EOS symbol
/// and on padding that is not a prefix of EOS of at most 7 bits (RFC 7541 5.2).
pub(crate) fn huffman_decode(bytes: &[u8], mut emit: impl FnMut(u8)) -> Result<(), &'static str> {
    let mut state = 0usize;
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            let step = HUFFMAN_STEPS[state][nibble as usize];
            if step & STEP_FAIL != 0 {
                return Err("HPACK: EOS in a Huffman string");
            }
            if step & STEP_EMIT != 0 {
                emit((step >> 8) as u8);
            }
            state = (step & 0xff) as usize;
        }
    }
    if HUFFMAN_ACCEPT[state] {
        Ok(())
    } else {
        Err("HPACK: bad Huffman padding")
    }
}

/// Appends an integer with a `prefix`-bit prefix, the first byte's high bits set to `flags`.
pub(crate) fn encode_integer(out: &mut Vec<u8>, flags: u8, prefix: u32, value: usize) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a string literal, not Huffman-coded.
pub(crate) fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    encode_integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// Appends a field: indexed when the static table has the pair, else a literal without
/// indexing (with the static table's name index when it has the name). Requests never touch
/// the server's dynamic table, so the encoder keeps no state.
pub(crate) fn encode_field(out: &mut Vec<u8>, name: &str, value: &str) {
    let mut name_index = 0;
    for (i, &(n, v)) in STATIC.iter().enumerate() {
        if n == name {
            if v == value {
                encode_integer(out, 0x80, 7, i + 1);
                return;
            }
            if name_index == 0 {
                name_index = i + 1;
            }
        }
    }
    encode_integer(out, 0x00, 4, name_index);
    if name_index == 0 {
        encode_string(out, name.as_bytes());
    }
    encode_string(out, value.as_bytes());
}

/// A request field, encoded once per plan request for either way of sending it.
#[derive(Debug, Clone)]
pub(crate) enum ReqField {
    /// The static table has the pair: an index, the same on every request.
    Static(Box<[u8]>),
    /// A literal: `insert` is its "literal with incremental indexing" form, which also adds it to
    /// the server's dynamic table (an entry of `size` octets, RFC 7541 4.1); once there, a
    /// one- or two-byte index sends it again.
    Literal { insert: Box<[u8]>, size: usize },
}

/// Encodes a field for [`ReqField`]: the static table's pair index, or a literal with incremental
/// indexing (with the static table's name index when it has the name).
pub(crate) fn request_field(name: &str, value: &str) -> ReqField {
    let mut name_index = 0;
    for (i, &(n, v)) in STATIC.iter().enumerate() {
        if n == name {
            if v == value {
                let mut out = Vec::with_capacity(2);
                encode_integer(&mut out, 0x80, 7, i + 1);
                return ReqField::Static(out.into_boxed_slice());
            }
            if name_index == 0 {
                name_index = i + 1;
            }
        }
    }
    let mut out = Vec::with_capacity(4 + name.len() + value.len());
    encode_integer(&mut out, 0x40, 6, name_index);
    if name_index == 0 {
        encode_string(&mut out, name.as_bytes());
    }
    encode_string(&mut out, value.as_bytes());
    ReqField::Literal {
        insert: out.into_boxed_slice(),
        size: name.len() + value.len() + 32,
    }
}

/// The encoder's copy of the server's dynamic table, which only our requests' literals fill:
/// which field (a plan request's id and the field's place in it) each entry holds, newest last.
/// A fixed ring, so sending a request never allocates.
#[derive(Debug)]
pub(crate) struct Encoder {
    keys: [u32; MAX_ENTRIES],
    sizes: [u16; MAX_ENTRIES],
    /// Index of the oldest entry in the ring, and how many there are.
    first: usize,
    len: usize,
    size: usize,
    /// The table's capacity (the server's SETTINGS_HEADER_TABLE_SIZE, default 4096); 0 turns
    /// indexing off.
    capacity: usize,
    /// The next header block must start with a table size update to `capacity`.
    update: bool,
}

impl Encoder {
    pub(crate) fn new() -> Encoder {
        Encoder {
            keys: [0; MAX_ENTRIES],
            sizes: [0; MAX_ENTRIES],
            first: 0,
            len: 0,
            size: 0,
            capacity: TABLE_SIZE,
            update: false,
        }
    }

    /// The server's SETTINGS_HEADER_TABLE_SIZE. Below the default (the most this encoder uses),
    /// indexing stops: the table is emptied with a size update to 0 at the next block.
    pub(crate) fn set_max(&mut self, max: usize) {
        if max < TABLE_SIZE && self.capacity > 0 {
            self.capacity = 0;
            self.first = 0;
            self.len = 0;
            self.size = 0;
            self.update = true;
        }
    }

    /// Appends `field` (field `key` of a request): an index when the server's table holds it,
    /// else its literal, which the server then adds to its table.
    pub(crate) fn encode(&mut self, out: &mut Vec<u8>, key: u32, field: &ReqField) {
        if self.update {
            encode_integer(out, 0x20, 5, self.capacity);
            self.update = false;
        }
        let (insert, size) = match field {
            ReqField::Static(bytes) => return out.extend_from_slice(bytes),
            ReqField::Literal { insert, size } => (insert, *size),
        };
        if self.capacity == 0 {
            // The same literal without indexing: only its first byte's pattern differs.
            return encode_without_indexing(out, insert);
        }
        for age in 0..self.len {
            // `age` 0 is the newest entry: dynamic index 62.
            let at = (self.first + self.len - 1 - age) % MAX_ENTRIES;
            if self.keys[at] == key {
                encode_integer(out, 0x80, 7, STATIC.len() + 1 + age);
                return;
            }
        }
        out.extend_from_slice(insert);
        if size > self.capacity {
            // A too-large entry empties the server's table and is not added (RFC 7541 4.4).
            self.first = 0;
            self.len = 0;
            self.size = 0;
            return;
        }
        while self.size + size > self.capacity || self.len == MAX_ENTRIES {
            self.size -= usize::from(self.sizes[self.first]);
            self.first = (self.first + 1) % MAX_ENTRIES;
            self.len -= 1;
        }
        let at = (self.first + self.len) % MAX_ENTRIES;
        self.keys[at] = key;
        self.sizes[at] = size as u16;
        self.len += 1;
        self.size += size;
    }
}

/// Re-encodes a "literal with incremental indexing" field as a literal without indexing.
fn encode_without_indexing(out: &mut Vec<u8>, insert: &[u8]) {
    // 01xxxxxx (6-bit name index) becomes 0000xxxx (4-bit): re-encode the index, copy the rest.
    let mut rest = insert;
    let (index, used) = decode_prefix(rest, 6);
    rest = &rest[used..];
    encode_integer(out, 0x00, 4, index);
    out.extend_from_slice(rest);
}

/// Decodes an HPACK integer with an `n`-bit prefix from bytes this module encoded.
fn decode_prefix(b: &[u8], n: u32) -> (usize, usize) {
    let mask = (1usize << n) - 1;
    let Some(&first) = b.first() else { return (0, 0) };
    let mut value = usize::from(first) & mask;
    if value < mask {
        return (value, 1);
    }
    let mut shift = 0;
    for (i, &byte) in b.iter().enumerate().skip(1) {
        value += usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, b.len())
}

/// The static table (RFC 7541 Appendix A); index `i` is `STATIC[i - 1]`.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

// The Huffman decoder: a state per internal node of the code tree (a complete prefix code of
// 257 symbols has 256), stepped 4 bits at a time. A step packs the next state (bits 0–7), a
// decoded symbol (bits 8–15, valid with STEP_EMIT; codes are at least 5 bits long, so a nibble
// ends at most one) and STEP_FAIL when the nibble reaches EOS.
const STEP_EMIT: u32 = 1 << 16;
const STEP_FAIL: u32 = 1 << 17;
/// A child in the code tree: a leaf (symbol | LEAF) or an internal node's index (never 0, the root).
const LEAF: u16 = 1 << 12;

const fn huffman_tree() -> [[u16; 2]; 256] {
    let mut nodes = [[0u16; 2]; 256];
    let mut count = 1;
    let mut sym = 0;
    while sym < HUFFMAN.len() {
        let (code, len) = HUFFMAN[sym];
        let mut node = 0;
        let mut bit = len as u32;
        while bit > 1 {
            bit -= 1;
            let b = ((code >> bit) & 1) as usize;
            if nodes[node][b] == 0 {
                // Out of bounds (a compile error) if the table were not a complete prefix code.
                nodes[node][b] = count as u16;
                count += 1;
            }
            node = nodes[node][b] as usize;
        }
        nodes[node][(code & 1) as usize] = LEAF | sym as u16;
        sym += 1;
    }
    nodes
}

const HUFFMAN_TREE: [[u16; 2]; 256] = huffman_tree();

const fn huffman_steps() -> [[u32; 16]; 256] {
    let mut steps = [[0u32; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut step = 0u32;
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = HUFFMAN_TREE[node][(nibble >> bit) & 1];
                if child & LEAF != 0 {
                    let sym = (child & !LEAF) as u32;
                    if sym == 256 {
                        step |= STEP_FAIL;
                    } else {
                        step |= STEP_EMIT | (sym << 8);
                    }
                    node = 0;
                } else {
                    node = child as usize;
                }
            }
            steps[state][nibble] = step | node as u32;
            nibble += 1;
        }
        state += 1;
    }
    steps
}

static HUFFMAN_STEPS: [[u32; 16]; 256] = huffman_steps();

/// States where a string may end: the root, or up to 7 bits of EOS's prefix (all ones).
const fn huffman_accept() -> [bool; 256] {
    let mut accept = [false; 256];
    accept[0] = true;
    let mut node = 0;
    let mut depth = 0;
    while depth < 7 {
        node = HUFFMAN_TREE[node][1] as usize;
        accept[node] = true;
        depth += 1;
    }
    accept
}

static HUFFMAN_ACCEPT: [bool; 256] = huffman_accept();

/// The HPACK Huffman code (RFC 7541 Appendix B): `(code, bit length)` per symbol, 256 = EOS.
const HUFFMAN: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    (0x3fffffff, 30),
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_request_encoder_indexes_literals_and_mirrors_the_servers_table() {
        // The server's side is this module's decoder, which checks every index it is sent.
        let fields = |path: &str, agent: &str| {
            [
                (":method", "GET".to_string()),
                (":scheme", "https".to_string()),
                (":authority", "app.example.com:8443".to_string()),
                (":path", path.to_string()),
                ("user-agent", agent.to_string()),
            ]
            .map(|(n, v)| request_field(n, &v))
        };
        let a = fields("/a", "engine/1");
        let b = fields("/b", "engine/1");
        let (mut enc, mut dec) = (Encoder::new(), Decoder::new(TABLE_SIZE));
        let mut send = |enc: &mut Encoder, id: u32, req: &[ReqField]| {
            let mut block = Vec::new();
            for (i, f) in req.iter().enumerate() {
                enc.encode(&mut block, id << 16 | i as u32, f);
            }
            let mut n = 0;
            dec.decode(&block, |_| {
                n += 1;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}: {block:02x?}"));
            assert_eq!(n, req.len());
            (block.len(), dec.table_size(), dec.entries().len())
        };
        let first = send(&mut enc, 1, &a);
        assert_eq!((first.1, first.2), (enc.size, enc.len));
        assert_eq!(enc.len, 3, "authority, path and agent are inserted");
        // Again: every field is one index byte.
        assert_eq!(send(&mut enc, 1, &a), (5, enc.size, enc.len));
        // Another request's literals go in too; then both requests are all indices.
        let other = send(&mut enc, 2, &b);
        assert_eq!((other.1, other.2), (enc.size, 6));
        assert_eq!(send(&mut enc, 1, &a).0, 5);
        assert_eq!(send(&mut enc, 2, &b).0, 5);
        // Large distinct fields evict the oldest entries; the two tables stay the same.
        for id in 3..40 {
            let big = fields(&format!("/{}", "x".repeat(300 + id as usize)), "engine/1");
            let (_, size, len) = send(&mut enc, id, &big);
            assert_eq!((size, len), (enc.size, enc.len), "request {id}");
            assert!(enc.size <= TABLE_SIZE);
        }
        // A server that shrinks its table: a size update to 0, then literals without indexing.
        enc.set_max(1024);
        let (_, size, len) = send(&mut enc, 1, &a);
        assert_eq!((size, len), (0, 0));
        let (again, size, _) = send(&mut enc, 1, &a);
        assert_eq!(size, 0);
        assert!(again > 20, "literals again: {again}");
    }

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Huffman-codes `s` (tests build server blocks with it).
    pub(crate) fn huffman_encode(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u64, 0u32);
        for &b in s {
            let (code, len) = HUFFMAN[b as usize];
            acc = (acc << len) | code as u64;
            bits += len as u32;
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) as u8) | (0xff >> bits));
        }
        out
    }

    fn text(t: Text<'_>) -> String {
        match t {
            Text::Static(s) => s.to_string(),
            Text::Raw { bytes, huffman: false } => String::from_utf8(bytes.to_vec()).unwrap(),
            Text::Raw { bytes, huffman: true } => {
                let mut v = Vec::new();
                huffman_decode(bytes, |b| v.push(b)).unwrap();
                String::from_utf8(v).unwrap()
            }
            Text::Dynamic(len) => format!("<{len}>"),
        }
    }

    fn decode_all(d: &mut Decoder, block: &[u8]) -> Vec<(Kind, String, String)> {
        let mut v = Vec::new();
        d.decode(block, |f| {
            v.push((f.kind, text(f.name), text(f.value)));
            Ok(())
        })
        .unwrap();
        v
    }

    fn fields(v: &[(Kind, String, String)]) -> Vec<(String, String)> {
        v.iter().map(|(_, n, v)| (n.clone(), v.clone())).collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn integers_as_in_rfc_7541_c1() {
        for (bytes, prefix, value) in [
            (vec![0x0a], 5, 10),
            (vec![0x1f, 0x9a, 0x0a], 5, 1337),
            (vec![0x2a], 8, 42),
        ] {
            let mut p = 0;
            assert_eq!(integer(&bytes, &mut p, prefix), Ok(value));
            assert_eq!(p, bytes.len());
            let mut out = Vec::new();
            encode_integer(&mut out, 0, prefix, value);
            assert_eq!(out, bytes);
        }
        for bad in [
            vec![0x1f],
            vec![0x1f, 0xff],
            vec![0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ] {
            assert!(integer(&bad, &mut 0, 5).is_err(), "{bad:?}");
        }
        // Round trip across the continuation boundaries.
        for value in [
            0,
            14,
            15,
            16,
            127,
            128,
            142,
            143,
            16_383,
            16_384,
            1 << 21,
            u32::MAX as usize,
        ] {
            let mut out = Vec::new();
            encode_integer(&mut out, 0x00, 4, value);
            assert_eq!(integer(&out, &mut 0, 4), Ok(value), "{value}");
        }
    }

    #[test]
    fn field_representations_as_in_rfc_7541_c2() {
        let mut d = Decoder::new(TABLE_SIZE);
        // C.2.1: literal with indexing, new name.
        let f = decode_all(
            &mut d,
            &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
        );
        assert_eq!(fields(&f), pairs(&[("custom-key", "custom-header")]));
        assert_eq!((d.table_size(), d.entries()), (55, vec![(10, 13)]));
        // C.2.2: literal without indexing, indexed name.
        let mut d = Decoder::new(TABLE_SIZE);
        let f = decode_all(&mut d, &hex("040c 2f73 616d 706c 652f 7061 7468"));
        assert_eq!(fields(&f), pairs(&[(":path", "/sample/path")]));
        assert_eq!(f[0].0, Kind::Pseudo);
        assert_eq!(d.table_size(), 0);
        // C.2.3: never indexed, new name.
        let f = decode_all(&mut d, &hex("1008 7061 7373 776f 7264 0673 6563 7265 74"));
        assert_eq!(fields(&f), pairs(&[("password", "secret")]));
        assert_eq!(d.table_size(), 0);
        // C.2.4: indexed.
        let f = decode_all(&mut d, &hex("82"));
        assert_eq!(fields(&f), pairs(&[(":method", "GET")]));
    }

    /// C.3 (plain) and C.4 (Huffman): the same three requests on one connection.
    #[test]
    fn request_examples_as_in_rfc_7541_c3_c4() {
        let plain = [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ];
        let huffman = [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ];
        // Per request: its fields (dynamic-table references by their lengths), then the table's
        // size and entries (name and value lengths, newest first).
        type Step = (Vec<(String, String)>, usize, Vec<(usize, usize)>);
        let steps: [Step; 3] = [
            (
                pairs(&[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", "www.example.com"),
                ]),
                57,
                vec![(10, 15)],
            ),
            (
                pairs(&[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    ("<10>", "<15>"),
                    ("cache-control", "no-cache"),
                ]),
                110,
                vec![(13, 8), (10, 15)],
            ),
            (
                pairs(&[
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":path", "/index.html"),
                    ("<10>", "<15>"),
                    ("custom-key", "custom-value"),
                ]),
                164,
                vec![(10, 12), (13, 8), (10, 15)],
            ),
        ];
        for blocks in [plain, huffman] {
            let mut d = Decoder::new(TABLE_SIZE);
            for (block, (expected, size, entries)) in blocks.iter().zip(&steps) {
                let f = decode_all(&mut d, &hex(block));
                assert_eq!(&fields(&f), expected);
                // Pseudo-headers first, even through the dynamic table (the <10> :authority).
                let pseudo = f.iter().filter(|(k, _, _)| *k == Kind::Pseudo).count();
                assert_eq!(pseudo, 4);
                assert!(f[4..].iter().all(|(k, _, _)| *k == Kind::Regular));
                assert_eq!((d.table_size(), &d.entries()), (*size, entries));
            }
        }
    }

    /// C.5 (plain) and C.6 (Huffman): three responses in a 256-byte table, with eviction.
    #[test]
    fn response_examples_as_in_rfc_7541_c5_c6() {
        let plain = [
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 \
             3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 \
             7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 \
             6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
        ];
        let huffman = [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad \
             1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 \
             e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ];
        // Per response: its status, its fields (dynamic-table references by their lengths),
        // then the table's size and entries (name and value lengths, newest first).
        type Step = (u16, Vec<(String, String)>, usize, Vec<(usize, usize)>);
        let steps: [Step; 3] = [
            (
                302,
                pairs(&[
                    (":status", "302"),
                    ("cache-control", "private"),
                    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                    ("location", "https://www.example.com"),
                ]),
                222,
                vec![(8, 23), (4, 29), (13, 7), (7, 3)],
            ),
            // :status 307 evicts :status 302; the rest are references.
            (
                307,
                pairs(&[(":status", "307"), ("<13>", "<7>"), ("<4>", "<29>"), ("<8>", "<23>")]),
                222,
                vec![(7, 3), (8, 23), (4, 29), (13, 7)],
            ),
            (
                200,
                pairs(&[
                    (":status", "200"),
                    ("<13>", "<7>"),
                    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                    ("<8>", "<23>"),
                    ("content-encoding", "gzip"),
                    ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
                ]),
                215,
                vec![(10, 56), (16, 4), (4, 29)],
            ),
        ];
        for blocks in [plain, huffman] {
            let mut d = Decoder::new(256);
            for (block, (status, expected, size, entries)) in blocks.iter().zip(&steps) {
                let f = decode_all(&mut d, &hex(block));
                assert_eq!(f[0].0, Kind::Status(*status));
                assert_eq!(&fields(&f), expected);
                assert_eq!((d.table_size(), &d.entries()), (*size, entries));
            }
        }
    }

    #[test]
    fn status_from_the_dynamic_table_and_size_updates() {
        let mut d = Decoder::new(TABLE_SIZE);
        // Literal with indexing: :status 503 (name index 8), Huffman-coded.
        let mut block = vec![0x48];
        let v = huffman_encode(b"503");
        encode_integer(&mut block, 0x80, 7, v.len());
        block.extend_from_slice(&v);
        assert_eq!(decode_all(&mut d, &block)[0].0, Kind::Status(503));
        // Indexed from the dynamic table.
        assert_eq!(decode_all(&mut d, &[0xbe])[0].0, Kind::Status(503));
        // A size update to 0 empties the table, then the index is out of range.
        assert_eq!(decode_all(&mut d, &[0x20]).len(), 0);
        assert_eq!(d.table_size(), 0);
        assert!(d.decode(&[0xbe], |_| Ok(())).is_err());
        // Size updates: only at the start, never above the limit.
        let mut d = Decoder::new(TABLE_SIZE);
        assert!(d.decode(&[0x20, 0x3f, 0xe1, 0x1f, 0x88], |_| Ok(())).is_ok()); // 0, then 4096
        assert!(d.decode(&[0x3f, 0xe2, 0x1f], |_| Ok(())).is_err()); // 4097
        assert!(d.decode(&[0x88, 0x20], |_| Ok(())).is_err());
        // An entry larger than the table empties it and is not added.
        let mut d = Decoder::new(64);
        decode_all(&mut d, &hex("400178 0179")); // x: y, 34 bytes
        assert_eq!(d.entries(), vec![(1, 1)]);
        let mut big = vec![0x40, 0x01, b'x', 0x20];
        big.extend_from_slice(&[b'z'; 32]);
        decode_all(&mut d, &big);
        assert_eq!((d.table_size(), d.entries()), (0, vec![]));
    }

    #[test]
    fn bad_status_values_and_names() {
        let mut d = Decoder::new(TABLE_SIZE);
        for value in [&b"20"[..], b"2000", b"abc", b"099", b""] {
            let mut block = vec![0x08];
            encode_string(&mut block, value);
            assert_eq!(decode_all(&mut d, &block)[0].0, Kind::BadStatus, "{value:?}");
        }
        // A literal name ":status" (Huffman) and a literal pseudo name.
        let mut block = vec![0x00, 0x80 | 0x06];
        let name = huffman_encode(b":status");
        block[1] = 0x80 | name.len() as u8;
        block.extend_from_slice(&name);
        encode_string(&mut block, b"404");
        assert_eq!(decode_all(&mut d, &block)[0].0, Kind::Status(404));
        let mut block = vec![0x00];
        encode_string(&mut block, b":path");
        encode_string(&mut block, b"/");
        assert_eq!(decode_all(&mut d, &block)[0].0, Kind::Pseudo);
    }

    #[test]
    fn huffman_round_trips_every_byte_and_rejects_bad_padding() {
        let all: Vec<u8> = (0..=255).collect();
        let mut v = Vec::new();
        huffman_decode(&huffman_encode(&all), |b| v.push(b)).unwrap();
        assert_eq!(v, all);
        // 'a' is 00011: padded with 111 it is valid; with 0s, or 8+ bits of 1s, it is not.
        assert!(huffman_decode(&[0b0001_1111], |_| ()).is_ok());
        assert!(huffman_decode(&[0b0001_1000], |_| ()).is_err());
        assert!(huffman_decode(&[0b0001_1111, 0xff], |_| ()).is_err());
        // EOS itself (30 ones) is an error.
        assert!(huffman_decode(&[0xff, 0xff, 0xff, 0xfc], |_| ()).is_err());
        assert!(huffman_decode(&[], |_| ()).is_ok());
    }

    #[test]
    fn encoder_uses_the_static_table() {
        let mut out = Vec::new();
        encode_field(&mut out, ":method", "GET");
        encode_field(&mut out, ":path", "/x");
        encode_field(&mut out, "x-a", "b");
        assert_eq!(out, hex("82 0402 2f78 0003 782d 61 0162"));
        let mut d = Decoder::new(TABLE_SIZE);
        assert_eq!(
            fields(&decode_all(&mut d, &out)),
            pairs(&[(":method", "GET"), (":path", "/x"), ("x-a", "b")])
        );
        assert_eq!(d.table_size(), 0);
    }

    #[test]
    fn garbage_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7541);
        let mut d = Decoder::new(TABLE_SIZE);
        for _ in 0..20_000 {
            let len = rng.random_range(0..64);
            let block: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let _ = d.decode(&block, |_| Ok(()));
            assert!(d.table_size() <= TABLE_SIZE);
            assert!(d.entries().iter().map(|(n, v)| n + v + 32).sum::<usize>() == d.table_size());
        }
    }
}
