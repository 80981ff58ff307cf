// A baseline JPEG of any size and number of colour components (3: YCbCr, 4: CMYK,
// as Adobe's APP14 marks it), made by hand in a few hundred KB: every block is flat
// (a DC difference of 0, then end-of-block), coded with one-symbol Huffman tables, so
// each block costs 2 bits per component. jpeg-js writes only YCbCr; the tests need a
// CMYK photo of many megapixels to measure what decoding one costs.

function segment(marker: number, body: number[]): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out[0] = 0xff;
  out[1] = marker;
  out.writeUInt16BE(body.length + 2, 2);
  Buffer.from(body).copy(out, 4);
  return out;
}

/** The header alone (SOI to SOS) of a `width` x `height` JPEG with `components` components. */
export function jpegHeader(width: number, height: number, components: 3 | 4): Buffer {
  const ids = Array.from({ length: components }, (_, i) => i + 1);
  const adobe = [...Buffer.from('Adobe', 'latin1'), 0x00, 0x64, 0, 0, 0, 0, components === 4 ? 0 : 1];
  const dqt = [0x00, ...new Array(64).fill(1)];
  const sof = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, components, ...ids.flatMap((id) => [id, 0x11, 0])];
  const oneSymbol = (tableClass: number) => [tableClass << 4, 1, ...new Array(15).fill(0), 0];
  const sos = [components, ...ids.flatMap((id) => [id, 0x00]), 0, 63, 0];
  return Buffer.concat([Buffer.from([0xff, 0xd8]), segment(0xee, adobe), segment(0xdb, dqt), segment(0xc0, sof), segment(0xc4, oneSymbol(0)), segment(0xc4, oneSymbol(1)), segment(0xda, sos)]);
}

/** A whole flat (mid-grey) JPEG: the header, 2 bits a block per component, padding ones, EOI. */
export function flatJpeg(width: number, height: number, components: 3 | 4): Buffer {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8) * components;
  const bits = 2 * blocks;
  const data = Buffer.alloc(Math.ceil(bits / 8));
  if (bits % 8) data[data.length - 1] = (1 << (8 - (bits % 8))) - 1;
  return Buffer.concat([jpegHeader(width, height, components), data, Buffer.from([0xff, 0xd9])]);
}
