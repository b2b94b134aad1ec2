/**
 * deploy/kubernetes validated without a cluster: every manifest parses and has the fields its
 * kind needs; the pieces agree with each other (labels, selectors, port names and numbers, config
 * path) and with the Dockerfile (user, port, command); the probe paths exist on a real app; the
 * ConfigMap's config loads with the real loader and allows the Probe's targets; the
 * PrometheusRule is exactly the alert rule file (and passes promtool); the staple-files example
 * mounts every path its config names, and nothing but certificates and staples.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { buildApp } from '../../src/app.js';
import { isAllowedByConfig } from '../../src/net/allowlist.js';
import { parseConfig } from '../../src/config/load.js';
import { createStapleFileSource } from '../../src/sources/staple-files.js';
import { renderProbeMetrics } from '../../src/metrics/render.js';
import { makeTestPki, stapleFor } from '../helpers/pki.js';
import { parseTargetParam } from '../../src/server/routes.js';
import { requireTools, runTool } from '../grafana/tools.js';
import { FakeStore } from '../server/fakes.js';
import { execForm, readDockerfile } from './dockerfile.js';
import { PROMETHEUS_RULE_FILE, renderPrometheusRule, RULES_FILE } from './prometheusrule.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'deploy/kubernetes');

/** Manifests are untyped YAML, checked field by field below. */
type Manifest = Record<string, any>;

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const manifests: { file: string; doc: Manifest }[] = files
  .filter((f) => f !== 'kustomization.yaml')
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return { file, doc: d.toJS() as Manifest };
    }),
  );
const byKind = (kind: string): Manifest => {
  const found = manifests.filter((m) => m.doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!.doc;
};

const deployment = byKind('Deployment');
const service = byKind('Service');
const configMap = byKind('ConfigMap');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const dockerfile = readDockerfile(join(ROOT, 'Dockerfile'));
const finalStage = dockerfile.stages[dockerfile.stages.length - 1]!;
const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

describe('every manifest', () => {
  it('parses, names its kind and API, and carries the app label', () => {
    expect(manifests.map((m) => `${m.file}: ${m.doc.apiVersion} ${m.doc.kind}`)).toEqual([
      'configmap.yaml: v1 ConfigMap',
      'deployment.yaml: apps/v1 Deployment',
      'probe.yaml: monitoring.coreos.com/v1 Probe',
      'prometheusrule.yaml: monitoring.coreos.com/v1 PrometheusRule',
      'service.yaml: v1 Service',
      'servicemonitor.yaml: monitoring.coreos.com/v1 ServiceMonitor',
    ]);
    for (const { file, doc } of manifests) {
      expect(doc.metadata?.name, file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(doc.metadata?.labels?.['app.kubernetes.io/name'], file).toBe('ocsp-stapling-exporter');
      expect(doc.metadata?.namespace, `${file}: the namespace comes from kustomization.yaml`).toBeUndefined();
    }
  });

  it('kustomization.yaml lists every manifest and pins the image to the package version', () => {
    const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as Manifest;
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml'));
    expect(kustomization.namespace).toBe('monitoring');
    expect(kustomization.images).toEqual([{ name: 'ocsp-stapling-exporter', newTag: version }]);
    expect(container.image).toBe(`ocsp-stapling-exporter:${version}`);
  });
});

describe('Deployment', () => {
  it('runs as the image’s non-root user with a read-only root and no privileges', () => {
    const user = /^(\d+):(\d+)$/.exec(finalStage.instructions.find((i) => i.keyword === 'USER')!.args)!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: Number(user[1]),
      runAsGroup: Number(user[2]),
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('sets resources', () => {
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.stringMatching(/^\d+Mi$/) });
    expect(container.resources.limits.memory).toMatch(/^\d+Mi$/);
    expect(parseInt(container.resources.limits.memory, 10)).toBeGreaterThanOrEqual(parseInt(container.resources.requests.memory, 10));
  });

  it('listens on 9858 as the image does, with the image’s command and the ConfigMap mounted where --config.file points', () => {
    const expose = finalStage.instructions.find((i) => i.keyword === 'EXPOSE')!.args;
    expect(container.ports).toEqual([{ name: 'http-metrics', containerPort: Number(expose), protocol: 'TCP' }]);
    const cmd = execForm(finalStage.instructions.find((i) => i.keyword === 'CMD')!.args)!;
    expect(container.args.slice(0, cmd.length)).toEqual(cmd);
    const configArg = (container.args as string[]).find((a) => a.startsWith('--config.file='))!.split('=')[1]!;
    const mount = container.volumeMounts.find((m: Manifest) => configArg.startsWith(`${m.mountPath}/`));
    expect(mount, 'a volume mounted at the config directory').toBeDefined();
    expect(mount.subPath, 'no subPath: ConfigMap edits must reach the pod').toBeUndefined();
    const volume = pod.volumes.find((v: Manifest) => v.name === mount.name);
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toContain(configArg.split('/').pop());
  });

  it('probes /-/healthy and /-/ready on the named port, and those paths answer 200 on a real app', async () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: '/-/healthy', port: 'http-metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/-/ready', port: 'http-metrics' });
    const config = parseConfig(configMap.data['config.yaml'], '/etc/ocsp-stapling-exporter/config.yaml');
    const app = buildApp({ store: new FakeStore(config), logLevel: 'silent', processMetrics: false });
    try {
      for (const path of [container.livenessProbe.httpGet.path, container.readinessProbe.httpGet.path]) {
        expect((await app.server.inject(path)).statusCode, path).toBe(200);
      }
    } finally {
      await app.close();
    }
  });

  it('selects its own pods', () => {
    expect(deployment.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'ocsp-stapling-exporter' });
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
  });
});

describe('Service, ServiceMonitor and Probe', () => {
  it('the Service reaches the container port by name and number', () => {
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: 'http-metrics', port: 9858, targetPort: container.ports[0].name, protocol: 'TCP' }]);
  });

  it('the ServiceMonitor selects the Service and scrapes /metrics on its port, timeout below the interval', () => {
    const monitor = byKind('ServiceMonitor');
    expect(monitor.spec.selector.matchLabels).toEqual(
      Object.fromEntries(Object.entries(service.metadata.labels).filter(([k]) => k in monitor.spec.selector.matchLabels)),
    );
    expect(monitor.spec.endpoints).toHaveLength(1);
    const endpoint = monitor.spec.endpoints[0];
    expect(endpoint).toMatchObject({ port: service.spec.ports[0].name, path: '/metrics' });
    expect(parseInt(endpoint.scrapeTimeout, 10)).toBeLessThan(parseInt(endpoint.interval, 10));
  });

  it('the Probe asks /probe on the Service for targets the ConfigMap allows, with a configured module', () => {
    const probe = byKind('Probe');
    expect(probe.spec.prober).toEqual({ url: `${service.metadata.name}.monitoring.svc:${service.spec.ports[0].port}`, path: '/probe', scheme: 'http' });
    const config = parseConfig(configMap.data['config.yaml'], '/etc/ocsp-stapling-exporter/config.yaml');
    expect(Object.keys(config.modules)).toContain(probe.spec.module);
    for (const target of probe.spec.targets.staticConfig.static as string[]) {
      const parsed = parseTargetParam(target);
      expect(parsed.ok, target).toBe(true);
      if (parsed.ok) expect(isAllowedByConfig(config, parsed.host, parsed.port), `${target} allowed`).toBe(true);
    }
    expect(parseInt(probe.spec.scrapeTimeout, 10)).toBeLessThan(parseInt(probe.spec.interval, 10));
  });
});

describe('PrometheusRule', () => {
  it('is generated from the alert rule file and up to date (regenerate: node --import tsx test/deploy/prometheusrule.ts)', () => {
    expect(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')).toBe(renderPrometheusRule(readFileSync(RULES_FILE, 'utf8')));
  });

  it('its groups equal the rule file’s groups', () => {
    const rule = byKind('PrometheusRule');
    const rules = parse(readFileSync(RULES_FILE, 'utf8')) as Manifest;
    expect(rule.spec.groups).toEqual(rules.groups);
    expect(rule.spec.groups.flatMap((g: Manifest) => g.rules).length).toBeGreaterThan(5);
  });

  const gate = requireTools(['promtool']);
  it.skipIf(gate.skip)('its groups pass promtool check rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocsp-exporter-rules-'));
    try {
      const file = join(dir, 'rules.yml');
      writeFileSync(file, JSON.stringify({ groups: byKind('PrometheusRule').spec.groups }));
      const run = await runTool('promtool', ['check', 'rules', file]);
      expect(run.exitCode, run.output).toBe(0);
      expect(run.output).toMatch(/SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ConfigMap', () => {
  it('holds a config the real loader accepts', () => {
    const config = parseConfig(configMap.data['config.yaml'], '/etc/ocsp-stapling-exporter/config.yaml');
    expect(config.targets.length).toBeGreaterThan(0);
  });
});

/**
 * deploy/kubernetes/examples/staple-files: the base plus staple_files and responder_checks read
 * from Secret volumes. Its patches are merged into the base here as kustomize's strategic merge
 * would (lists of containers, volumes and volumeMounts by name), then every path the config names
 * must be provided by a mounted volume item, and the config, with those files materialised under a
 * temporary root, must load with the real loader and give readable staple-file series.
 */
describe('example: staple files and responder checks from Secrets', () => {
  const EXAMPLE = join(DIR, 'examples/staple-files');
  const kustomization = parse(readFileSync(join(EXAMPLE, 'kustomization.yaml'), 'utf8')) as Manifest;
  const patches = (kustomization.patches as { path: string }[]).map((p) => parse(readFileSync(join(EXAMPLE, p.path), 'utf8')) as Manifest);
  const patchOf = (kind: string): Manifest => patches.find((p) => p.kind === kind)!;
  const configText = patchOf('ConfigMap').data['config.yaml'] as string;
  const config = parse(configText) as { staple_files: { haproxy: string }[]; responder_checks: { certificate: string }[] };

  /** The base Deployment's pod with the patch merged in by name, as kustomize does. */
  function mergedPod(): Manifest {
    const merged = structuredClone(pod);
    const patchPod = patchOf('Deployment').spec.template.spec;
    merged.securityContext = { ...merged.securityContext, ...patchPod.securityContext };
    const byName = (base: Manifest[], extra: Manifest[]): Manifest[] => [
      ...base.map((b) => ({ ...b, ...(extra.find((e) => e.name === b.name) ?? {}) })),
      ...extra.filter((e) => !base.some((b) => b.name === e.name)),
    ];
    merged.volumes = byName(merged.volumes, patchPod.volumes ?? []);
    for (const c of patchPod.containers) {
      const target = merged.containers.find((m: Manifest) => m.name === c.name);
      expect(target, `patch container ${c.name} exists in the base`).toBeDefined();
      target.volumeMounts = byName(target.volumeMounts, c.volumeMounts ?? []);
    }
    return merged;
  }

  /** Every file a mount provides: mount path + item path, with the Secret key it comes from. */
  function providedFiles(merged: Manifest): Map<string, { secret: string; key: string }> {
    const files = new Map<string, { secret: string; key: string }>();
    for (const mount of merged.containers[0].volumeMounts as Manifest[]) {
      const volume = (merged.volumes as Manifest[]).find((v) => v.name === mount.name)!;
      const secrets: Manifest[] = volume.secret ? [{ ...volume.secret, name: volume.secret.secretName }] : (volume.projected?.sources ?? []).map((s: Manifest) => s.secret).filter(Boolean);
      for (const secret of secrets) for (const item of secret.items ?? []) files.set(`${mount.mountPath}/${item.path}`, { secret: secret.name, key: item.key });
    }
    return files;
  }

  /** The glob syntax staple_files and responder_checks accept (* ? in a segment), as a RegExp. */
  const globRegExp = (pattern: string): RegExp =>
    new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);

  it('is a kustomize overlay of the base whose patches name the base’s Deployment and ConfigMap', () => {
    expect(kustomization.resources).toEqual(['../..']);
    expect(patches.map((p) => `${p.kind}/${p.metadata.name}`).sort()).toEqual([`ConfigMap/${configMap.metadata.name}`, `Deployment/${deployment.metadata.name}`]);
    expect(patches.every((p) => p.metadata.namespace === undefined)).toBe(true);
  });

  it('mounts only certificates and staples, read-only, readable by the image’s group, beside (not inside) the config directory', () => {
    const merged = mergedPod();
    expect(merged.securityContext.fsGroup).toBe(merged.securityContext.runAsGroup);
    const configMount = merged.containers[0].volumeMounts.find((m: Manifest) => m.name === 'config').mountPath as string;
    const added = patchOf('Deployment').spec.template.spec.containers[0].volumeMounts as Manifest[];
    expect(added.length).toBeGreaterThan(0);
    for (const mount of added) {
      expect(mount.readOnly, mount.name).toBe(true);
      expect(mount.mountPath.startsWith(`${configMount}/`), `${mount.mountPath} inside ${configMount}`).toBe(false);
    }
    const files = providedFiles(merged);
    // Never the private key: a kubernetes.io/tls Secret's tls.key stays out of the exporter's pod.
    expect([...files.values()].filter((f) => f.key !== 'tls.crt' && f.key !== 'ocsp')).toEqual([]);
    for (const volume of patchOf('Deployment').spec.template.spec.volumes as Manifest[]) {
      expect((volume.secret ?? volume.projected).defaultMode, volume.name).toBe(0o440);
    }
  });

  it('every path in the config is a mounted file: each HAProxy bundle with its .ocsp beside it, each checked tls.crt', () => {
    const files = [...providedFiles(mergedPod()).keys()];
    expect(config.staple_files.length).toBeGreaterThan(0);
    for (const entry of config.staple_files) {
      const bundles = files.filter((f) => globRegExp(entry.haproxy).test(f));
      expect(bundles.length, `${entry.haproxy} matches a mounted file`).toBeGreaterThan(0);
      for (const bundle of bundles) expect(files, `${bundle}.ocsp is mounted beside ${bundle}`).toContain(`${bundle}.ocsp`);
    }
    expect(config.responder_checks.length).toBeGreaterThan(0);
    for (const entry of config.responder_checks) {
      const matched = files.filter((f) => globRegExp(entry.certificate).test(f));
      expect(matched.length, `${entry.certificate} matches mounted files`).toBeGreaterThan(1);
      for (const file of matched) expect(file).toMatch(/\/tls\.crt$/);
    }
  });

  it('with the mounted files in place, the real loader accepts the config and the staple files are read and valid', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ocsp-exporter-pod-'));
    try {
      const pki = await makeTestPki();
      const bundle = pki.leafEcdsa.pem + pki.intermediate.pem;
      const staple = await stapleFor(pki, pki.leafEcdsa);
      const provided = providedFiles(mergedPod());
      for (const [file, { key }] of provided) {
        mkdirSync(join(root, dirname(file)), { recursive: true });
        writeFileSync(join(root, file), key === 'ocsp' ? staple : bundle);
      }
      // The same config with every mounted directory under the temporary root.
      const mountRoots = [...new Set([...provided.keys()].map((f) => f.split('/').slice(0, 3).join('/')))];
      let text = configText;
      for (const prefix of mountRoots) text = text.split(`${prefix}/`).join(`${root}${prefix}/`);
      const loaded = parseConfig(text, join(root, 'etc/ocsp-stapling-exporter/config.yaml'));
      expect(loaded.stapleFiles).toHaveLength(config.staple_files.length);
      expect(loaded.responderChecks).toHaveLength(config.responder_checks.length);
      // The staple-file source as /metrics runs it: the projected bundle and its staple, judged valid.
      const subjects = await createStapleFileSource({ now: () => Date.now() }).collect({ ...loaded, modules: { ...loaded.modules, default: { ...loaded.modules.default!, caPem: pki.root.pem } } }, Infinity);
      const text2 = renderProbeMetrics([], Date.now(), subjects);
      const stapleFile = `${root}/etc/ocsp-stapling-exporter-staples/www/www.example.com.pem.ocsp`;
      expect(text2).toContain(`ocsp_staple_file_readable{file="${stapleFile}",certificate="${root}/etc/ocsp-stapling-exporter-staples/www/www.example.com.pem",source="kubernetes-secret"} 1`);
      expect(text2).toMatch(new RegExp(`ocsp_staple_valid\\{file="${stapleFile.replace(/[.]/g, '\\.')}"[^}]*\\} 1`));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
