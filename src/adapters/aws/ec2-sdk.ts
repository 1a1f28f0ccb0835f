/**
 * The part of `@aws-sdk/client-ec2` hallpass uses: its client and the commands it sends. Every value
 * taken from the EC2 SDK comes through here (the dependency-cruiser rule `ec2-sdk-values-through-ec2-sdk`
 * keeps it so; types may come from the package itself).
 *
 * Why: the package's CommonJS build is one 2 MB file with every EC2 operation's schema; loaded, it costs
 * a running hallpass 6–31 MiB of memory and 0.1–0.2 s of start-up (docs/benchmarks.md). After `tsc`, the
 * build (`scripts/slim-ec2.cjs`) replaces this file's output, `dist/adapters/aws/ec2-sdk.js`, with a
 * bundle of the package's ES module build holding only what is exported below (tree-shaken by esbuild);
 * the rest of the AWS SDK (`@smithy/*`, `@aws-sdk/core`, …) stays shared with the other clients. Under
 * ts-jest and tsx this file re-exports the package as it is.
 */
export {
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkAclEntryCommand,
  CreateTagsCommand,
  DeleteNetworkAclEntryCommand,
  DescribeNetworkAclsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
