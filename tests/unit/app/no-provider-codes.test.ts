import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The app layer decides on `InfraError.kind`, never on a provider's error code: no string literal in
 * src/app (or src/scheduler) may name an AWS error code. Comments may, to explain what an adapter does.
 */
const AWS_CODE =
  /(['"`])(?:InvalidGroup|InvalidPermission|InvalidSecurityGroupRuleId|InvalidNetworkAcl|InvalidParameter|UnauthorizedOperation|AccessDenied|Throttl|RequestLimitExceeded|\w*LimitExceeded|TooManyRequests|MalformedPolicyDocument|ValidationE|RegionDisabled|NoSuchEntity|ResourceNotFound|ServiceQuotaExceeded)[^'"`]*\1/;

const ROOT = join(__dirname, '..', '..', '..');

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourcesUnder(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The lines of `source` that hold an AWS error code outside comments, as `line: text`. */
function awsCodesIn(source: string): string[] {
  // Block comments become blank lines, so line numbers still match the file.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ''));
  return code
    .split('\n')
    .map((line, i) => [i + 1, line.replace(/^\s*\/\/.*$/, '').replace(/\s\/\/\s.*$/, '')] as const)
    .filter(([, line]) => AWS_CODE.test(line))
    .map(([n, line]) => `${n}: ${line.trim()}`);
}

describe('the app layer never names an AWS error code', () => {
  it('finds a code in a literal and ignores one in a comment', () => {
    expect(awsCodesIn("const a = 1;\n  case 'InvalidGroup.NotFound':")).toEqual([
      "2: case 'InvalidGroup.NotFound':",
    ]);
    expect(awsCodesIn('if (code === `AccessDenied`) deny();')).toHaveLength(1);
    expect(
      awsCodesIn(
        "/**\n * `InvalidPermission.Duplicate` 'AccessDenied'\n */\n// 'Throttling'\nx(); // 'Throttling'",
      ),
    ).toEqual([]);
  });

  it.each(['src/app', 'src/scheduler'])('%s holds none outside comments', (dir) => {
    const found = sourcesUnder(join(ROOT, dir)).flatMap((file) =>
      awsCodesIn(readFileSync(file, 'utf8')).map((hit) => `${relative(ROOT, file)}:${hit}`),
    );

    expect(found).toEqual([]);
  });
});
