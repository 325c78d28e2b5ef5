// Lint: typescript-eslint's recommended type-aware rules over src, listeners and tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'bench/', 'var/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/chorus.js'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Port methods are async without awaiting on purpose: an async function turns a synchronous throw
      // (e.g. a state value that is not JSON) into the rejected promise the port's contract promises.
      '@typescript-eslint/require-await': 'off',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use an as-const object: enums are not erasable syntax.' }],
    },
  },
  { files: ['eslint.config.js', 'bin/chorus.js'], ...tseslint.configs.disableTypeChecked },
);
