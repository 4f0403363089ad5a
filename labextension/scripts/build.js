// Build the prebuilt extension into ../claude_magic/labextension: @jupyterlab/builder,
// against the shared packages JupyterLab's core declares (@jupyterlab/core-meta).
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const here = path.resolve(__dirname, '..');
const core = fs.mkdtempSync(path.join(os.tmpdir(), 'claude-magic-core-'));
try {
  fs.copyFileSync(
    require.resolve('@jupyterlab/core-meta/core.package.json', { paths: [here] }),
    path.join(core, 'package.json')
  );
  const builder = require.resolve('@jupyterlab/builder/lib/build-labextension.js', {
    paths: [here]
  });
  execFileSync(process.execPath, [builder, '--core-path', core, here], {
    stdio: 'inherit',
    cwd: here
  });
  // where `jupyter labextension list` finds which Python package installed it
  const output = path.resolve(here, require(path.join(here, 'package.json')).jupyterlab.outputDir);
  fs.copyFileSync(path.join(here, 'install.json'), path.join(output, 'install.json'));
} finally {
  fs.rmSync(core, { recursive: true, force: true });
}
