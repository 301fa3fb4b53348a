import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = {
    process: 'readonly',
    console: 'readonly',
    fetch: 'readonly',
    setTimeout: 'readonly',
    clearTimeout: 'readonly',
};

export default tseslint.config(
    { ignores: ['dist/**', 'node_modules/**', 'bundled/**', '.cache/**', 'build/**'] },
    js.configs.recommended,
    {
        files: ['client/src/**/*.ts'],
        extends: [...tseslint.configs.recommendedTypeChecked],
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            '@typescript-eslint/no-floating-promises': 'error',
            '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true }],
            eqeqeq: 'error',
            curly: 'error',
        },
    },
    {
        files: ['**/*.mjs'],
        languageOptions: { globals: nodeGlobals, sourceType: 'module' },
        rules: { eqeqeq: 'error', curly: 'error' },
    },
);
