// WGSL sources are imported as text (esbuild's `text` loader in build.mjs), so the
// same shader files serve the Node bundle and the browser page.
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl_reflect's package entry is CommonJS inside a `type: module` package; its ES
// module build is imported by path and has the same types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}

// Every shaders/*.wgsl file's source, keyed by its basename (shaders/conv2d.wgsl is
// "conv2d"): a module that build.mjs makes from a listing of the folder.
declare module 'lenet:shaders' {
  const SHADERS: Readonly<Record<string, string>>;
  export default SHADERS;
}
