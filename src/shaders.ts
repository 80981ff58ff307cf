// Every WGSL file of the engine, as text, keyed by its basename. build.mjs lists
// shaders/ and serves the sources as the module 'lenet:shaders', so Node and the page
// import the same files, and a new shader needs no list edited by hand.
import SHADERS from 'lenet:shaders';

export { SHADERS };

/**
 * A shader's basename ("conv2d" for shaders/conv2d.wgsl). A plain string: the names
 * come from a listing of the folder at build time, which the type checker cannot
 * see, so Runtime.kernel checks them and names the known shaders when one is unknown.
 */
export type ShaderName = string;
