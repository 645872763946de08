// ESLint flat config: typescript-eslint's recommended rules on every TypeScript (and JavaScript) file.
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/**", "out/**", ".build/**", "service/node_modules/**", "service/dist/**"] },
    ...tseslint.configs.recommended,
    {
        rules: {
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        },
    },
    {
        // The few plain-JavaScript files (the require hook that makes TypeScript loadable) are CommonJS.
        files: ["**/*.js"],
        languageOptions: { sourceType: "commonjs" },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
);
